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
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// hostile is one payload of the catalogue. {T} is replaced by the ISO time of the case's
// own second and {E} by the same second in epoch seconds (the engine runs in UTC).
type hostile struct {
	name    string
	payload string
	refused map[refusal.Reason]uint64 // exactly these refusals are counted
	en      map[string]string         // the energie row the message makes, nil for none
	count   int                       // its count (1 when en is set and count is 0)
	ts      []string                  // the TS row it makes: TS, NS and Pi cells
}

func one(r refusal.Reason) map[refusal.Reason]uint64 { return map[refusal.Reason]uint64{r: 1} }

func hostileCatalogue() []hostile {
	deepArr := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObj := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	var many strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&many, `"x%d":%d,`, i, i)
	}
	long := strings.Repeat("A", 1000)
	return []hostile{
		{name: "not JSON", payload: `hello world`, refused: one(refusal.NotJSON)},
		{name: "truncated JSON", payload: `{"Time":"{T}","z":{"Pi":1`, refused: one(refusal.NotJSON)},
		{name: "truncated in a string", payload: `{"Time":"{T}","z":{"TS":"abc`, refused: one(refusal.NotJSON)},
		{name: "empty payload", payload: ``, refused: one(refusal.NotJSON)},
		{name: "whitespace payload", payload: " \r\n\t", refused: one(refusal.NotJSON)},
		{name: "BOM", payload: "\xef\xbb\xbf" + `{"Time":"{T}","z":{"Pi":1}}`, refused: one(refusal.NotJSON)},
		{name: "NaN value", payload: `{"Time":"{T}","z":{"Pi":NaN,"Po":1}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "1"}},
		{name: "Infinity value", payload: `{"Time":"{T}","z":{"Pi":Infinity,"Po":2}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "2"}},
		{name: "-Infinity value", payload: `{"Time":"{T}","z":{"Pi":-Infinity,"Po":3}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "3"}},
		{name: "nan literal", payload: `{"Time":"{T}","z":{"Pi":nan,"Po":4}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "4"}},
		{name: "only NaN", payload: `{"Time":"{T}","z":{"Pi":NaN}}`, refused: one(refusal.NoValues)}, // the message is refused whole
		{name: "1e400", payload: `{"Time":"{T}","z":{"Pi":1e400,"Po":5}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "5"}},
		{name: "-1e400", payload: `{"Time":"{T}","z":{"Pi":-1e400,"Po":6}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "6"}},
		{name: "1e-400 underflows to 0", payload: `{"Time":"{T}","z":{"Pi":1e-400}}`, refused: nil, en: map[string]string{"Pi": "0"}},
		{name: "number as string", payload: `{"Time":"{T}","z":{"Pi":"0.5","Po":7}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "7"}},
		{name: "null value", payload: `{"Time":"{T}","z":{"Pi":null,"Po":8}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "8"}},
		{name: "bool values", payload: `{"Time":"{T}","z":{"Pi":true,"Po":false,"U1":9}}`, refused: map[refusal.Reason]uint64{refusal.BadValue: 2}, en: map[string]string{"U1": "9"}},
		{name: "array value", payload: `{"Time":"{T}","z":{"Pi":[1,2],"Po":10}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "10"}},
		{name: "object value", payload: `{"Time":"{T}","z":{"Pi":{"v":1},"Po":11}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "11"}},
		{name: "deeply nested arrays as a value", payload: `{"Time":"{T}","z":{"Pi":` + deepArr + `,"Po":12}}`, refused: one(refusal.BadValue), en: map[string]string{"Po": "12"}},
		{name: "z as array", payload: `{"Time":"{T}","z":[{"Pi":1}]}`, refused: one(refusal.NoMeter)},
		{name: "z as string", payload: `{"Time":"{T}","z":"{\"Pi\":1}"}`, refused: one(refusal.NoMeter)},
		{name: "z as null", payload: `{"Time":"{T}","z":null}`, refused: one(refusal.NoMeter)},
		{name: "z as number", payload: `{"Time":"{T}","z":1}`, refused: one(refusal.NoMeter)},
		{name: "no meter: other sensor", payload: `{"Time":"{T}","ENERGY":{"Power":100}}`, refused: one(refusal.NoMeter)},
		{name: "no meter: STATE", payload: `{"Time":"{T}","Uptime":"0T01:00:00","Wifi":{"RSSI":80}}`, refused: one(refusal.NoMeter)},
		{name: "duplicate keys", payload: `{"Time":"{T}","z":{"Pi":1,"Pi":2,"Po":3}}`, en: map[string]string{"Pi": "2", "Po": "3"}},
		{name: "duplicate meter objects", payload: `{"Time":"{T}","z":{"Pi":1},"z":{"Po":2}}`, en: map[string]string{"Pi": "1", "Po": "2"}},
		{name: "10 000 attributes", payload: `{"Time":"{T}","z":{` + many.String() + `"Pi":13}}`, refused: map[refusal.Reason]uint64{refusal.UnknownAttribute: 10000}, en: map[string]string{"Pi": "13"}},
		{name: "10 000 levels inside z", payload: `{"Time":"{T}","z":{"deep":` + deepObj + `,"Pi":14}}`, refused: one(refusal.UnknownAttribute), en: map[string]string{"Pi": "14"}},
		{name: "10 000 levels at top level", payload: `{"deep":` + deepObj + `,"Time":"{T}","z":{"Pi":15}}`, en: map[string]string{"Pi": "15"}},
		{name: "10 000 levels as the payload", payload: deepArr, refused: one(refusal.NotJSON)},
		{name: "10 001 unclosed levels", payload: `{"Time":"{T}","z":{"Pi":` + strings.Repeat("[", 10001), refused: one(refusal.NotJSON)},
		{name: "10 MiB payload", payload: `{"Time":"{T}","z":{"TS":"` + strings.Repeat("x", 10<<20) + `"}}`, refused: one(refusal.TooLarge)},
		{name: "invalid UTF-8 in TS", payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"\xff\xfe\",\"NS\":1}}", refused: one(refusal.BadValue), ts: []string{"", "1", ""}},
		{name: "invalid UTF-8 in a key", payload: "{\"Time\":\"{T}\",\"z\":{\"P\xffi\":1,\"Pi\":16}}", refused: one(refusal.UnknownAttribute), en: map[string]string{"Pi": "16"}},
		{name: "invalid UTF-8 outside strings", payload: "{\"Time\":\"{T}\",\"z\":{\"Pi\":\xff}}", refused: one(refusal.NotJSON)},
		{name: "control character in a string", payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"a\x01b\"}}", refused: one(refusal.NotJSON)},
		{name: "newline in a string", payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"a\nb\"}}", refused: one(refusal.NotJSON)},
		{name: "escaped control characters in TS", payload: `{"Time":"{T}","z":{"TS":"\r\n=1+1","NS":2}}`, ts: []string{"\"'\r\n=1+1\"", "2", ""}},
		{name: "lone surrogate in TS", payload: `{"Time":"{T}","z":{"TS":"\ud800x","NS":3}}`, ts: []string{"\uFFFDx", "3", ""}},
		{name: "NUL escape in a key", payload: `{"Time":"{T}","z":{"Pi\u0000":1,"Po":17}}`, refused: one(refusal.UnknownAttribute), en: map[string]string{"Po": "17"}},
		{name: "Time with milliseconds", payload: `{"Time":"{T}.987","z":{"Pi":18}}`, en: map[string]string{"Pi": "18"}},
		{name: "Time with offset", payload: `{"Time":"{T}+05:30","z":{"Pi":19}}`, en: map[string]string{"Pi": "19"}},
		{name: "Time with Z", payload: `{"Time":"{T}Z","z":{"Pi":20}}`, en: map[string]string{"Pi": "20"}},
		{name: "Time as epoch number", payload: `{"Time":{E},"z":{"Pi":21}}`, en: map[string]string{"Pi": "21"}},
		{name: "Time as epoch string", payload: `{"Time":"{E}","z":{"Pi":22}}`, en: map[string]string{"Pi": "22"}},
		{name: "Time month 13", payload: `{"Time":"2026-13-14T10:00:00","z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time hour 25", payload: `{"Time":"2026-01-14T25:00:00","z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time Feb 30", payload: `{"Time":"2026-02-30T10:00:00","z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time empty", payload: `{"Time":"","z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time missing", payload: `{"z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time null", payload: `{"Time":null,"z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time NaN", payload: `{"Time":NaN,"z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time 1e400", payload: `{"Time":1e400,"z":{"Pi":1}}`, refused: one(refusal.BadTime)},
		{name: "Time invalid UTF-8", payload: "{\"Time\":\"2026-01-14T10:00:0\xff\",\"z\":{\"Pi\":1}}", refused: one(refusal.BadTime)},
		{name: "attribute name of 1000 characters", payload: `{"Time":"{T}","z":{"` + long + `":1,"Pi":23}}`, refused: one(refusal.UnknownAttribute), en: map[string]string{"Pi": "23"}},
		{name: "TS as a number", payload: `{"Time":"{T}","z":{"TS":260114100949,"NS":4}}`, ts: []string{"260114100949", "4", ""}},
		{name: "trailing garbage", payload: `{"Time":"{T}","z":{"Pi":1}}garbage`, refused: one(refusal.NotJSON)},
		{name: "second object", payload: `{"Time":"{T}","z":{"Pi":1}}{"Time":"{T}","z":{"Pi":1}}`, refused: one(refusal.NotJSON)},
		{name: "top-level array", payload: `[{"Time":"{T}","z":{"Pi":1}}]`, refused: one(refusal.NotJSON)},
		{name: "number as the payload", payload: `42`, refused: one(refusal.NotJSON)},
		{name: "string as the payload", payload: `"{\"Time\":\"{T}\"}"`, refused: one(refusal.NotJSON)},
		{name: "null as the payload", payload: `null`, refused: one(refusal.NotJSON)},
		{name: "LWT", payload: `Offline`, refused: one(refusal.NotJSON)},
		{name: "empty meter object", payload: `{"Time":"{T}","z":{}}`, refused: one(refusal.NoValues)},
		{name: "1000-digit number", payload: `{"Time":"{T}","z":{"Pi":0.` + strings.Repeat("1", 1000) + `}}`, en: map[string]string{"Pi": "0.1111111111111111"}},
		{name: "negative zero", payload: `{"Time":"{T}","z":{"Pi":-0.0}}`, en: map[string]string{"Pi": "0"}},
		{name: "bad escape", payload: `{"Time":"{T}","z":{"TS":"\x41"}}`, refused: one(refusal.NotJSON)},
		{name: "minus word", payload: `{"Time":"{T}","z":{"Pi":-Inferno}}`, refused: one(refusal.NotJSON)},
		{name: "single quotes", payload: `{'Time':'{T}','z':{'Pi':1}}`, refused: one(refusal.NotJSON)},
		{name: "comment", payload: `{"Time":"{T}",/*x*/"z":{"Pi":1}}`, refused: one(refusal.NotJSON)},
	}
}

// TestHostileCatalogue sends every hostile payload between good messages: each is counted
// with the right reason, nothing panics, and the files hold exactly the good rows and the
// usable part of the hostile ones.
func TestHostileCatalogue(t *testing.T) {
	cases := hostileCatalogue()
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	h := newHarness(t, func(o *config.Options) { o.MaxPayload = 1 << 20 }, engine.Params{Verbose: true})
	const base = 1768384800 // 2026-01-14T10:00:00Z
	second := func(s int) string { return fmt.Sprintf("2026-01-14T%02d:%02d:%02d", 10+s/3600, s/60%60, s%60) }
	var wantEn, wantTS strings.Builder
	wantEn.WriteString(enHeader)
	wantTS.WriteString(tsHeader)
	for i, c := range cases {
		hs, gs := 2*i, 2*i+1
		payload := strings.ReplaceAll(c.payload, "{T}", second(hs))
		payload = strings.ReplaceAll(payload, "{E}", fmt.Sprint(base+hs))
		before := h.e.Stats()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s: panic %v", c.name, p)
				}
			}()
			h.msg(topic, payload)
		}()
		after := h.e.Stats()
		for r := refusal.NotJSON; r <= refusal.Dropped; r++ {
			if got, want := after.Refused.Get(r)-before.Refused.Get(r), c.refused[r]; got != want {
				t.Errorf("%s: %s counted %d, want %d", c.name, r, got, want)
			}
		}
		if after.Received != before.Received+1 {
			t.Errorf("%s: received %d -> %d", c.name, before.Received, after.Received)
		}
		if c.en != nil {
			n := c.count
			if n == 0 {
				n = 1
			}
			wantEn.WriteString(enRow(second(hs), c.en, n))
		}
		if c.ts != nil {
			wantTS.WriteString(tsRow(second(hs), c.ts[0], c.ts[1], map[string]string{"Pi": c.ts[2]}))
		}
		// the good neighbour: every fifth a summary
		if i%5 == 4 {
			h.msg(topic, fmt.Sprintf(`{"Time":"%s","z":{"TS":"good%d","NS":%d,"Pi":%d.5}}`, second(gs), i, i, i))
			wantTS.WriteString(tsRow(second(gs), fmt.Sprintf("good%d", i), fmt.Sprint(i), map[string]string{"Pi": fmt.Sprintf("%d.5", i)}))
		} else {
			h.msg(topic, fmt.Sprintf(`{"Time":"%s","z":{"Pi":%d.5,"U1":0.1}}`, second(gs), i))
			h.msg(topic, fmt.Sprintf(`{"Time":"%s","z":{"U1":0.2}}`, second(gs)))
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
	if h.log.count("E") != 1 {
		t.Fatalf("errors: %q", h.log.lines)
	}
}
