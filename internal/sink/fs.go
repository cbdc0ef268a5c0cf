// Package sink writes CSV rows to the daily files: names from templates, append-only
// opening with one header, whole-row writes, fsync, reopening for logrotate, and keeping
// rows in memory (bounded) while the disk refuses them. It owns the SPEC's "Files" and
// "Stopping, faults" rules for the disk.
package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// File is an open CSV file.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
	// Truncate takes back a partial write so that a row is never left cut in half.
	Truncate(size int64) error
}

// FS opens files under the output folder. It is the seam through which tests inject disk
// full and permission errors; the real one is DirFS.
type FS interface {
	// OpenAppend opens name (slash-separated, relative) for appending, creating it and its
	// folders as needed, and returns its current size.
	OpenAppend(name string) (File, int64, error)
}

// DirFS is the output folder. It opens through os.Root, so no name and no symlink planted
// in the folder can make it write outside.
type DirFS struct {
	root *os.Root
}

// OpenDir creates (0755, umask applies) and opens the output folder.
func OpenDir(dir string) (*DirFS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the output folder: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open the output folder: %w", err)
	}
	return &DirFS{root: root}, nil
}

// OpenAppend implements FS. Files are created 0644 and folders 0755, less the umask.
func (d *DirFS) OpenAppend(name string) (File, int64, error) {
	if dir := path.Dir(name); dir != "." {
		if err := d.root.MkdirAll(dir, 0o755); err != nil {
			return nil, 0, err
		}
	}
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|openNonblock, 0o644)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, &fs.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	return f, st.Size(), nil
}

// Close releases the folder.
func (d *DirFS) Close() error { return d.root.Close() }
