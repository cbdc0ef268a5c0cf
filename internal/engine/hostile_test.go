package engine_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/hostiletest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// TestHostileCatalogue sends every hostile payload between good messages: each is counted
// with the right reason, nothing panics, and the files hold exactly the good rows and the
// usable part of the hostile ones. The catalogue (internal/hostiletest) is shared with the
// tests of the Telegraf processor and of its execd binary.
func TestHostileCatalogue(t *testing.T) {
	cases := hostiletest.Catalogue()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	h := newHarness(t, func(o *config.Options) { o.MaxPayload = 1 << 20 }, engine.Params{Verbose: true})
	second := hostiletest.Second
	var wantEn, wantTS strings.Builder
	wantEn.WriteString(enHeader)
	wantTS.WriteString(tsHeader)
	for i, c := range cases {
		hs, gs := 2*i, 2*i+1
		payload := c.At(hs)
		before := h.e.Stats()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s: panic %v", c.Name, p)
				}
			}()
			h.msg(topic, payload)
		}()
		after := h.e.Stats()
		for r := refusal.NotJSON; r <= refusal.Dropped; r++ {
			if got, want := after.Refused.Get(r)-before.Refused.Get(r), c.Refused[r]; got != want {
				t.Errorf("%s: %s counted %d, want %d", c.Name, r, got, want)
			}
		}
		if after.Received != before.Received+1 {
			t.Errorf("%s: received %d -> %d", c.Name, before.Received, after.Received)
		}
		if c.En != nil {
			wantEn.WriteString(enRow(second(hs), c.En, c.RowCount()))
		}
		if c.TS != nil {
			wantTS.WriteString(tsRow(second(hs), c.TS[0], c.TS[1], map[string]string{"Pi": c.TS[2]}))
		}
		// the good neighbour: every fifth a summary
		for _, g := range hostiletest.Good(i, gs) {
			h.msg(topic, g)
		}
		if i%5 == 4 {
			wantTS.WriteString(tsRow(second(gs), fmt.Sprintf("good%d", i), fmt.Sprint(i), map[string]string{"Pi": fmt.Sprintf("%d.5", i)}))
		} else {
			wantEn.WriteString(enRow(second(gs), map[string]string{"Pi": fmt.Sprintf("%d.5", i), "U1": "0.3"}, 2))
		}
		if i%7 == 6 {
			h.e.Flush(false)
		}
	}
	h.close()
	h.expectFile(enFile, wantEn.String())
	h.expectFile(tsFile, wantTS.String())
	if got := h.files(); len(got) != 2 {
		t.Fatalf("files %v", got)
	}
}

// TestHostileTopics: no topic makes the engine write outside its folder or follow a
// symlink out of it.
func TestHostileTopics(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	os.MkdirAll(out, 0o755)
	// a device named like an existing file of the output folder
	os.WriteFile(filepath.Join(out, "existing"), []byte("not a folder\n"), 0o644)
	tests := []struct {
		topic  string
		device string // "" when refused with unsafe_device, "!" when the write fails
	}{
		{"tele/../SENSOR", ""},
		{"tele/./SENSOR", ""},
		{"tele//SENSOR", ""},
		{"", ""},
		{"/", ""},
		{"//", ""},
		{"../../etc/passwd", "etc"},
		{"tele/" + strings.Repeat("x", 10000) + "/SENSOR", ""},
		{"tele/" + strings.Repeat("\u2215", 100) + "/SENSOR", strings.Repeat("_", 100)},
		{"tele/" + strings.Repeat("\u2215", 129) + "/SENSOR", ""},
		{"tele/a\u2215b/SENSOR", "a_b"},
		{"tele/c\uff0fd/SENSOR", "c_d"},
		{"tele/\u2215..\u2215/SENSOR", "_.._"},
		{"tele/%2F/SENSOR", "_2F"},
		{"tele/..%2F..%2Fetc/SENSOR", ".._2F.._2Fetc"},
		{"tele/\x00\x01\x7f/SENSOR", "___"},
		{"tele/tab\there/SENSOR", "tab_here"},
		{"tele/new\nline/SENSOR", "new_line"},
		{"tele/\xff\xfe/SENSOR", "__"},
		{"tele/CON/SENSOR", "CON"},
		{"tele/NUL/SENSOR", "NUL"},
		{"tele/con.csv/SENSOR", "con.csv"},
		{"tele/.hidden/SENSOR", ".hidden"},
		{"tele/.../SENSOR", "..."},
		{"tele/../../../tmp/SENSOR", "tmp"},
		{"tele/C:/SENSOR", "C_"},
		{`tele/..\..\x/SENSOR`, ".._.._x"},
		{"tele/existing/SENSOR", "!"},
		{"SENSOR", "SENSOR"},
		{"tele/" + strings.Repeat("y", 128) + "/SENSOR", strings.Repeat("y", 128)},
	}
	h := openHarness(t, out, nil, engine.Params{})
	wantUnsafe := 0
	wantFiles := map[string]bool{"existing": true}
	for _, tc := range tests {
		h.msg(tc.topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"x"}}`)
		h.msg(tc.topic, `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`)
		switch tc.device {
		case "":
			wantUnsafe += 2
		case "!":
		default:
			wantFiles[tc.device+"/ts_summary_20260114_1021.csv"] = true
			wantFiles[tc.device+"/energie_20260114_1021.csv"] = true
		}
	}
	err := h.e.Close()
	if err == nil || !strings.Contains(err.Error(), "could not be written") {
		t.Fatalf("Close: %v (the device 'existing' cannot be written)", err)
	}
	if got := h.refused(refusal.UnsafeDevice); got != uint64(wantUnsafe) {
		t.Fatalf("unsafe_device %d, want %d", got, wantUnsafe)
	}
	// every file created is inside the folder, none is a symlink
	var got []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("symlink %s", p)
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(out, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			t.Errorf("file %s outside", p)
		}
		if real, err := filepath.EvalSymlinks(p); err != nil || real != p {
			t.Errorf("file %s resolves to %s (%v)", p, real, err)
		}
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(got)
	var want []string
	for f := range wantFiles {
		want = append(want, f)
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// nothing next to the output folder
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Fatalf("created beside the output folder: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "existing")); string(b) != "not a folder\n" {
		t.Fatalf("existing file changed: %q", b)
	}
	// each safe device has its row
	body, _ := os.ReadFile(filepath.Join(out, "a_b", "energie_20260114_1021.csv"))
	if string(body) != enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1) {
		t.Fatalf("a_b: %q", body)
	}
	if h.log.Count("ERROR") != 1 {
		t.Fatalf("errors: %q", h.log.Lines())
	}
}
