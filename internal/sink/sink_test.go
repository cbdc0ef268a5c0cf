package sink_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

const day = 20467 // 2026-01-14

func row(i int) string { return fmt.Sprintf("2026-01-14T10:%02d:%02d,%d,1\n", i/60%60, i%60, i) }

func rows(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(row(i))
	}
	return b.String()
}

func TestAppendOneHeader(t *testing.T) {
	dir := t.TempDir()
	log := mqtttest.NewLogger(nil)
	s := newSink(t, openDir(t, dir), log, 0)
	s.Append(sink.Energie, "m", day, []byte(rows(0, 2)), 2)
	s.Append(sink.Energie, "m", day, []byte(rows(2, 3)), 1)
	s.Append(sink.TS, "m", day, []byte("2026-01-14T10:00:00,x,1\n"), 1)
	s.Close()
	// a second sink on the same folder, same start minute: the same files go on
	s2 := newSink(t, openDir(t, dir), log, 0)
	s2.Append(sink.Energie, "m", day, []byte(rows(3, 4)), 1)
	s2.Close()
	if got, want := readFile(t, dir, "m/energie_20260114_1009.csv"), enHeader+rows(0, 4); got != want {
		t.Fatalf("energie file:\n%s\nwant:\n%s", got, want)
	}
	if got, want := readFile(t, dir, "m/ts_summary_20260114_1009.csv"), tsHeader+"2026-01-14T10:00:00,x,1\n"; got != want {
		t.Fatalf("ts file:\n%s", got)
	}
	st := s2.Stats()
	if st.RowsEnergie != 1 || st.Pending != 0 || len(st.Files) != 1 {
		t.Fatalf("stats %+v", st)
	}
	if log.Count("ERROR") != 0 {
		t.Fatalf("errors logged: %v", log.Lines())
	}
}

func TestAppendExistingFileWithoutNewHeader(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "m"), 0o755)
	os.WriteFile(filepath.Join(dir, "m/energie_20260114_1009.csv"), []byte("old content\n"), 0o644)
	s := newSink(t, openDir(t, dir), mqtttest.NewLogger(nil), 0)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Close()
	if got := readFile(t, dir, "m/energie_20260114_1009.csv"); got != "old content\n"+row(1) {
		t.Fatalf("file truncated or header added:\n%s", got)
	}
}

// faultCase runs rows into a sink whose disk fails, then recovers.
func TestWriteFaults(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*faultFS)
	}{
		{"disk full", func(f *faultFS) { f.writeErr = errNoSpace; f.shortN = 0 }},
		{"disk full after a short write", func(f *faultFS) { f.writeErr = errNoSpace; f.shortN = 7 }},
		{"short write into the header", func(f *faultFS) { f.writeErr = errNoSpace; f.shortN = 3 }},
		{"short write, truncate refused", func(f *faultFS) { f.writeErr = errNoSpace; f.shortN = 30; f.truncErr = syscall.EIO }},
		{"short write into the header, truncate refused", func(f *faultFS) { f.writeErr = errNoSpace; f.shortN = 5; f.truncErr = syscall.EIO }},
		{"permission denied on open", func(f *faultFS) { f.openErr = errPerm }},
		{"disk full on open", func(f *faultFS) { f.openErr = errNoSpace }},
	}
	for _, tc := range tests {
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing=%v", tc.name, existing), func(t *testing.T) {
				dir := t.TempDir()
				log := mqtttest.NewLogger(nil)
				ffs := &faultFS{inner: openDir(t, dir)}
				s := newSink(t, ffs, log, 0)
				n := 0
				if existing {
					// the file is open and written before the fault
					s.Append(sink.Energie, "m", day, []byte(rows(0, 2)), 2)
					n = 2
				}
				ffs.set(tc.inject)
				if existing {
					s.Reopen() // an open file only sees open errors when reopened (SIGHUP)
				}
				for flush := 0; flush < 5; flush++ {
					s.Append(sink.Energie, "m", day, []byte(rows(n, n+3)), 3)
					n += 3
					s.Retry()
					s.Sync()
				}
				if st := s.Stats(); st.Pending == 0 && !strings.Contains(tc.name, "truncate refused") {
					t.Fatalf("nothing pending during the fault: %+v", st)
				}
				if got := log.Count("ERROR"); got != 1 {
					t.Fatalf("%d error lines during one episode, want 1: %q", got, log.Lines())
				}
				ffs.set(func(f *faultFS) { f.openErr, f.writeErr, f.shortN, f.truncErr, f.syncErr = nil, nil, 0, nil, nil })
				s.Retry()
				s.Append(sink.Energie, "m", day, []byte(rows(n, n+1)), 1)
				n++
				s.Close()
				st := s.Stats()
				if st.Pending != 0 || st.Dropped != 0 || st.RowsEnergie != uint64(n) {
					t.Fatalf("after recovery: %+v, want %d rows", st, n)
				}
				if got, want := readFile(t, dir, "m/energie_20260114_1009.csv"), enHeader+rows(0, n); got != want {
					t.Fatalf("file after recovery:\n%q\nwant:\n%q", got, want)
				}
				if log.Count("INFO") != 1 {
					t.Fatalf("recovery not logged once: %q", log.Lines())
				}
			})
		}
	}
}

// TestOneEpisodeManyFiles: one file failing while another keeps working is still one
// episode: the log is not flooded at each flush.
func TestOneEpisodeManyFiles(t *testing.T) {
	dir := t.TempDir()
	log := mqtttest.NewLogger(nil)
	inner := openDir(t, dir)
	bad := &faultFS{inner: inner, openErr: errPerm}
	s := newSink(t, routeFS{bad: bad, good: inner}, log, 0)
	for flush := 0; flush < 10; flush++ {
		s.Append(sink.Energie, "bad", day, []byte(row(flush)), 1)
		s.Append(sink.Energie, "good", day, []byte(row(flush)), 1)
		s.Retry()
		s.Sync()
	}
	if got := log.Count("ERROR"); got != 1 {
		t.Fatalf("%d error lines, want 1: %q", got, log.Lines())
	}
	bad.set(func(f *faultFS) { f.openErr = nil })
	s.Close()
	if got := readFile(t, dir, "bad/energie_20260114_1009.csv"); got != enHeader+rows(0, 10) {
		t.Fatalf("bad device after recovery:\n%s", got)
	}
}

// routeFS sends the device "bad" to one FS and everything else to another.
type routeFS struct {
	bad  *faultFS
	good sink.FS
}

func (r routeFS) OpenAppend(name string) (sink.File, int64, error) {
	if strings.HasPrefix(name, "bad/") {
		return r.bad.OpenAppend(name)
	}
	return r.good.OpenAppend(name)
}

func TestMaxPendingBound(t *testing.T) {
	for _, devices := range []int{1, 3} {
		t.Run(fmt.Sprintf("devices=%d", devices), func(t *testing.T) {
			dir := t.TempDir()
			log := mqtttest.NewLogger(nil)
			ffs := &faultFS{inner: openDir(t, dir), writeErr: errNoSpace}
			const bound = 10
			s := newSink(t, ffs, log, bound)
			sent := 0
			for i := 0; i < 20; i++ {
				for d := 0; d < devices; d++ {
					// each device also gets a new day's file now and then
					s.Append(sink.Energie, fmt.Sprintf("m%d", d), int64(day+i/7), []byte(rows(i*2, i*2+2)), 2)
					sent += 2
				}
				s.Retry()
				if st := s.Stats(); st.Pending > bound {
					t.Fatalf("after %d appends %d rows pending, bound %d", i+1, st.Pending, bound)
				}
			}
			st := s.Stats()
			if st.Pending+int(st.Dropped) != sent || st.Dropped == 0 {
				t.Fatalf("pending %d + dropped %d != sent %d", st.Pending, st.Dropped, sent)
			}
			ffs.set(func(f *faultFS) { f.writeErr = nil })
			s.Close()
			st = s.Stats()
			if st.Pending != 0 || st.RowsEnergie+st.Dropped != uint64(sent) {
				t.Fatalf("after recovery: %+v, sent %d", st, sent)
			}
		})
	}
}

// TestPartialWriteNeverHalfRow: whatever the disk accepts of a write, the file holds
// whole rows only (checked after each failed write).
func TestPartialWriteNeverHalfRow(t *testing.T) {
	for short := 1; short < 60; short += 3 {
		dir := t.TempDir()
		ffs := &faultFS{inner: openDir(t, dir)}
		s := newSink(t, ffs, mqtttest.NewLogger(nil), 0)
		s.Append(sink.Energie, "m", day, []byte(rows(0, 1)), 1)
		ffs.set(func(f *faultFS) { f.writeErr, f.shortN = errNoSpace, short })
		s.Append(sink.Energie, "m", day, []byte(rows(1, 4)), 3)
		got := readFile(t, dir, "m/energie_20260114_1009.csv")
		if got != enHeader+rows(0, 1) {
			t.Fatalf("short=%d: file holds %q", short, got)
		}
		ffs.set(func(f *faultFS) { f.writeErr = nil })
		s.Close()
		if got := readFile(t, dir, "m/energie_20260114_1009.csv"); got != enHeader+rows(0, 4) {
			t.Fatalf("short=%d: after recovery %q", short, got)
		}
	}
}

func TestSymlinksNotFollowedOut(t *testing.T) {
	dir := t.TempDir()
	elsewhere := t.TempDir()
	// a device folder that is a symlink to a folder outside
	if err := os.Symlink(elsewhere, filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	// a file that is a symlink to a file outside
	os.MkdirAll(filepath.Join(dir, "m"), 0o755)
	victim := filepath.Join(elsewhere, "victim.txt")
	os.WriteFile(victim, []byte("keep me\n"), 0o644)
	if err := os.Symlink(victim, filepath.Join(dir, "m", "energie_20260114_1009.csv")); err != nil {
		t.Fatal(err)
	}
	// an absolute symlink to /tmp/elsewhere-like folder as the parent
	log := mqtttest.NewLogger(nil)
	s := newSink(t, openDir(t, dir), log, 0)
	s.Append(sink.Energie, "evil", day, []byte(row(1)), 1)
	s.Append(sink.TS, "evil", day, []byte(row(1)), 1)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Append(sink.TS, "ok", day, []byte(row(1)), 1)
	s.Close()
	entries, _ := os.ReadDir(elsewhere)
	if len(entries) != 1 {
		t.Fatalf("files created outside the output folder: %v", entries)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
		t.Fatalf("file outside written through a symlink: %q", b)
	}
	if log.Count("ERROR") == 0 {
		t.Fatal("refused writes not logged")
	}
	if got := readFile(t, dir, "ok/ts_summary_20260114_1009.csv"); got != tsHeader+row(1) {
		t.Fatalf("good device: %q", got)
	}
}

func TestSymlinkInsideFolderIsFine(t *testing.T) {
	// a symlink that stays inside the folder may be followed (os.Root allows it)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "real"), 0o755)
	os.Symlink("real", filepath.Join(dir, "m"))
	s := newSink(t, openDir(t, dir), mqtttest.NewLogger(nil), 0)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Close()
	if got := readFile(t, dir, "real/energie_20260114_1009.csv"); got != enHeader+row(1) {
		t.Fatalf("%q", got)
	}
}

func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	// the file name is taken by a folder
	os.MkdirAll(filepath.Join(dir, "m", "energie_20260114_1009.csv"), 0o755)
	// the device folder name is taken by a file
	os.WriteFile(filepath.Join(dir, "f"), []byte("mine\n"), 0o644)
	log := mqtttest.NewLogger(nil)
	s := newSink(t, openDir(t, dir), log, 0)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Append(sink.Energie, "f", day, []byte(row(1)), 1)
	s.Close()
	if st := s.Stats(); st.Pending != 2 {
		t.Fatalf("stats %+v", st)
	}
	if got := readFile(t, dir, "f"); got != "mine\n" {
		t.Fatalf("existing file changed: %q", got)
	}
}

func TestModesAndUmask(t *testing.T) {
	tests := []struct {
		umask           int
		fileMode, dirMo os.FileMode
	}{
		{0o022, 0o644, 0o755},
		{0o077, 0o600, 0o700},
		{0o027, 0o640, 0o750},
	}
	for _, tc := range tests {
		old := syscall.Umask(tc.umask)
		dir := filepath.Join(t.TempDir(), "out")
		s := newSink(t, openDir(t, dir), mqtttest.NewLogger(nil), 0)
		s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
		s.Close()
		syscall.Umask(old)
		for _, c := range []struct {
			p    string
			want os.FileMode
		}{{dir, tc.dirMo}, {filepath.Join(dir, "m"), tc.dirMo}, {filepath.Join(dir, "m", "energie_20260114_1009.csv"), tc.fileMode}} {
			st, err := os.Stat(c.p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != c.want {
				t.Errorf("umask %03o: %s is %v, want %v", tc.umask, c.p, st.Mode().Perm(), c.want)
			}
		}
	}
}

// TestReopenAfterRotate: logrotate moves the file away, SIGHUP reopens: a new file with a
// header, and the moved file keeps what it had.
func TestReopenAfterRotate(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, openDir(t, dir), mqtttest.NewLogger(nil), 0)
	s.Append(sink.Energie, "m", day, []byte(rows(0, 2)), 2)
	name := filepath.Join(dir, "m", "energie_20260114_1009.csv")
	if err := os.Rename(name, name+".1"); err != nil {
		t.Fatal(err)
	}
	s.Reopen()
	s.Append(sink.Energie, "m", day, []byte(rows(2, 3)), 1)
	s.Close()
	if got := readFile(t, dir, "m/energie_20260114_1009.csv.1"); got != enHeader+rows(0, 2) {
		t.Fatalf("rotated file: %q", got)
	}
	if got := readFile(t, dir, "m/energie_20260114_1009.csv"); got != enHeader+rows(2, 3) {
		t.Fatalf("new file: %q", got)
	}
}

// Without Reopen the sink keeps writing to the moved file (that is why SIGHUP exists).
func TestNoReopenKeepsWritingMovedFile(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, openDir(t, dir), mqtttest.NewLogger(nil), 0)
	s.Append(sink.Energie, "m", day, []byte(rows(0, 1)), 1)
	name := filepath.Join(dir, "m", "energie_20260114_1009.csv")
	os.Rename(name, name+".1")
	s.Append(sink.Energie, "m", day, []byte(rows(1, 2)), 1)
	s.Close()
	if got := readFile(t, dir, "m/energie_20260114_1009.csv.1"); got != enHeader+rows(0, 2) {
		t.Fatalf("moved file: %q", got)
	}
}

func TestCloseBefore(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{inner: openDir(t, dir)}
	s := newSink(t, ffs, mqtttest.NewLogger(nil), 0)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Append(sink.Energie, "m", day+1, []byte(row(2)), 1)
	opens := ffs.opens
	s.CloseBefore("m", day+1)
	// a late row for the closed day opens the file again and appends, no second header
	s.Append(sink.Energie, "m", day, []byte(row(3)), 1)
	if ffs.opens != opens+1 {
		t.Fatalf("opens %d -> %d", opens, ffs.opens)
	}
	s.Close()
	if got := readFile(t, dir, "m/energie_20260114_1009.csv"); got != enHeader+row(1)+row(3) {
		t.Fatalf("%q", got)
	}
	if got := readFile(t, dir, "m/energie_20260115_0000.csv"); got != enHeader+row(2) {
		t.Fatalf("%q", got)
	}
}

func TestSyncErrorLogged(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{inner: openDir(t, dir), syncErr: syscall.EIO}
	log := mqtttest.NewLogger(nil)
	s := newSink(t, ffs, log, 0)
	s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
	s.Sync()
	if log.Count("ERROR") != 1 {
		t.Fatalf("sync error not logged: %q", log.Lines())
	}
	if s.Stats().LastError == nil {
		t.Fatal("no LastError")
	}
}
