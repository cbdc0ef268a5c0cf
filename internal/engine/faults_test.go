package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

func faultHarness(t *testing.T, opt func(*config.Options)) (*harness, *faultFS) {
	t.Helper()
	dir := t.TempDir()
	d, err := openDirFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ffs := &faultFS{inner: d}
	return openHarness(t, dir, opt, engine.Params{FS: ffs}), ffs
}

func sec(s int) string { return fmt.Sprintf("2026-01-14T10:%02d:%02d", 10+s/60, s%60) }

func TestDiskFaultsThroughEngine(t *testing.T) {
	tests := []struct {
		name     string
		openErr  error
		writeErr error
		short    int
	}{
		{"disk full", nil, syscall.ENOSPC, 0},
		{"disk full, short write", nil, syscall.ENOSPC, 25},
		{"disk full, short write in header", nil, syscall.ENOSPC, 10},
		{"permission denied", syscall.EACCES, nil, 0},
		{"read-only file system", syscall.EROFS, nil, 0},
	}
	for _, tc := range tests {
		for _, beforeFirstWrite := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/fresh=%v", tc.name, beforeFirstWrite), func(t *testing.T) {
				h, ffs := faultHarness(t, nil)
				var wantEn, wantTS strings.Builder
				wantEn.WriteString(enHeader)
				wantTS.WriteString(tsHeader)
				s := 0
				if !beforeFirstWrite {
					h.val(sec(s), `"Pi":1`)
					h.val(sec(s+1), `"Pi":1`)
					h.e.Flush(false)
					wantEn.WriteString(enRow(sec(s), map[string]string{"Pi": "1"}, 1))
					wantEn.WriteString(enRow(sec(s+1), map[string]string{"Pi": "1"}, 1))
					s += 2
				}
				ffs.set(tc.openErr, tc.writeErr, tc.short)
				h.e.Reopen() // open errors show at the next open, as after a SIGHUP
				for flush := 0; flush < 6; flush++ {
					for k := 0; k < 5; k++ {
						h.val(sec(s), fmt.Sprintf(`"Pi":%d`, s))
						wantEn.WriteString(enRow(sec(s), map[string]string{"Pi": fmt.Sprint(s)}, 1))
						s++
					}
					h.msg(topic, fmt.Sprintf(`{"Time":"%s","z":{"TS":"t%d"}}`, sec(s), s))
					wantTS.WriteString(tsRow(sec(s), fmt.Sprintf("t%d", s), "", nil))
					h.val(sec(s), `"Po":1`) // the newest second, kept for the next flush
					h.e.Flush(false)
					wantEn.WriteString(enRow(sec(s), map[string]string{"Po": "1"}, 1))
					s++
					if st := h.e.Stats(); st.Pending == 0 {
						t.Fatalf("flush %d: nothing pending while the disk fails: %+v", flush, st)
					}
				}
				if n := h.log.Count("ERROR"); n != 1 {
					t.Fatalf("%d error lines in one episode: %q", n, h.log.Lines())
				}
				// a half row never stays in the file
				for _, name := range h.files() {
					body := h.file(name)
					if body != "" && !strings.HasSuffix(body, "\n") {
						t.Fatalf("%s ends with half a row: %q", name, body)
					}
				}
				ffs.set(nil, nil, 0)
				h.e.Flush(false)
				if st := h.e.Stats(); st.Pending != 0 {
					t.Fatalf("rows still pending after recovery: %+v", st)
				}
				if h.log.Count("INFO") != 1 {
					t.Fatalf("recovery not logged once: %q", h.log.Lines())
				}
				h.close()
				h.expectFile(enFile, wantEn.String())
				h.expectFile(tsFile, wantTS.String())
				if got := h.refused(refusal.Dropped); got != 0 {
					t.Fatalf("dropped %d", got)
				}
			})
		}
	}
}

func TestMaxPendingRowsDropped(t *testing.T) {
	h, ffs := faultHarness(t, func(o *config.Options) { o.MaxPendingRows = 20 })
	ffs.set(nil, syscall.ENOSPC, 0)
	for s := 0; s < 100; s++ {
		h.val(sec(s), `"Pi":1`)
		if s%10 == 9 {
			h.e.Flush(false)
			if st := h.e.Stats(); st.Pending > 20 {
				t.Fatalf("pending %d over max_pending_rows 20", st.Pending)
			}
		}
	}
	st := h.e.Stats()
	dropped := st.Refused.Get(refusal.Dropped)
	if dropped == 0 || uint64(st.Pending)+dropped+uint64(st.Buffered) != 100 {
		t.Fatalf("pending %d + dropped %d + buffered %d != 100", st.Pending, dropped, st.Buffered)
	}
	if !strings.Contains(st.Refused.String(), "dropped") {
		t.Fatalf("refused %q", st.Refused.String())
	}
	ffs.set(nil, nil, 0)
	h.close()
	st = h.e.Stats()
	if st.RowsEnergie+st.Refused.Get(refusal.Dropped) != 100 {
		t.Fatalf("written %d + dropped %d != 100", st.RowsEnergie, st.Refused.Get(refusal.Dropped))
	}
	// what was written is whole rows in order, with one header
	body := h.file(enFile)
	if !strings.HasPrefix(body, enHeader) || strings.Count(body, "Time,") != 1 || uint64(strings.Count(body, "\n")) != st.RowsEnergie+1 {
		t.Fatalf("file:\n%s", body)
	}
}

func TestCloseWithDiskStillFailing(t *testing.T) {
	h, ffs := faultHarness(t, nil)
	ffs.set(nil, syscall.ENOSPC, 0)
	h.val(sec(1), `"Pi":1`)
	if err := h.e.Close(); err == nil || !strings.Contains(err.Error(), "1 rows could not be written") {
		t.Fatalf("Close: %v", err)
	}
}

func TestSymlinksThroughEngine(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	os.MkdirAll(elsewhere, 0o755)
	// a device folder planted as a symlink to a folder outside
	if err := os.Symlink(elsewhere, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	// a file planted as a symlink to a file outside
	victim := filepath.Join(elsewhere, "victim.csv")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "evil2"), 0o755)
	os.Symlink(victim, filepath.Join(dir, "evil2", "energie_20260114_1021.csv"))
	// and a relative one climbing out
	os.MkdirAll(filepath.Join(dir, "evil3"), 0o755)
	rel, _ := filepath.Rel(filepath.Join(dir, "evil3"), victim)
	os.Symlink(rel, filepath.Join(dir, "evil3", "ts_summary_20260114_1021.csv"))

	h := openHarness(t, dir, nil, engine.Params{})
	for _, d := range []string{"evil", "evil2", "evil3", "good"} {
		h.msg("tele/"+d+"/SENSOR", `{"Time":"2026-01-14T10:09:40","z":{"TS":"x"}}`)
		h.msg("tele/"+d+"/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`)
	}
	h.e.Close()
	entries, _ := os.ReadDir(elsewhere)
	if len(entries) != 1 {
		t.Fatalf("written outside: %v", entries)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Fatalf("victim written: %q", b)
	}
	h.expectFile("good/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1))
	if h.log.Count("ERROR") != 1 {
		t.Fatalf("errors: %q", h.log.Lines())
	}
}

func TestUmaskThroughEngine(t *testing.T) {
	for _, tc := range []struct {
		umask     int
		file, dir os.FileMode
	}{{0o022, 0o644, 0o755}, {0o077, 0o600, 0o700}} {
		old := syscall.Umask(tc.umask)
		out := filepath.Join(t.TempDir(), "out")
		h := openHarness(t, out, nil, engine.Params{})
		h.val(sec(1), `"Pi":1`)
		h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"x"}}`)
		h.close()
		syscall.Umask(old)
		for p, want := range map[string]os.FileMode{
			out:                        tc.dir,
			filepath.Join(out, dev):    tc.dir,
			filepath.Join(out, enFile): tc.file,
			filepath.Join(out, tsFile): tc.file,
		} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("umask %03o: %s is %v, want %v", tc.umask, p, st.Mode().Perm(), want)
			}
		}
	}
}

// TestReopenAfterLogrotate: the files are renamed away, then Reopen (SIGHUP): new files
// with a header; the rotated files keep their rows.
func TestReopenAfterLogrotate(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"a"}}`)
	h.val(sec(1), `"Pi":1`)
	h.val(sec(2), `"Pi":2`)
	h.e.Flush(false)
	for _, f := range []string{enFile, tsFile} {
		p := filepath.Join(h.dir, f)
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	h.e.Reopen()
	h.msg(topic, `{"Time":"2026-01-14T10:09:50","z":{"TS":"b"}}`)
	h.close()
	h.expectFile(enFile+".1", enHeader+enRow(sec(1), map[string]string{"Pi": "1"}, 1))
	h.expectFile(enFile, enHeader+enRow(sec(2), map[string]string{"Pi": "2"}, 1))
	h.expectFile(tsFile+".1", tsHeader+tsRow("2026-01-14T10:09:40", "a", "", nil))
	h.expectFile(tsFile, tsHeader+tsRow("2026-01-14T10:09:50", "b", "", nil))
}
