package report

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Column indexes of the numeric attributes the report uses.
const (
	cPi = iota
	cPo
	cB1
	cB2
	cE1
	cE2
	cP1i
	cP2i
	cP3i
	cP1o
	cP2o
	cP3o
	cI1
	cI2
	cI3
	cU1
	cU2
	cU3
	nCols
)

var colNames = [nCols]string{"Pi", "Po", "B1", "B2", "E1", "E2",
	"P1i", "P2i", "P3i", "P1o", "P2o", "P3o", "I1", "I2", "I3", "U1", "U2", "U3"}

type fileKind int

const (
	kindTS fileKind = iota + 1
	kindEnergie
)

func (k fileKind) String() string {
	if k == kindTS {
		return "ts_summary"
	}
	return "energie"
}

// row is one readable data row of a file.
type row struct {
	date  string // YYYY-MM-DD
	sec   int    // second of the day
	vals  [nCols]float64
	count float64 // energie: the count column, NaN when absent or empty
	// present is the number of non-empty value cells (every column except
	// Time and count, including columns the report does not use).
	present int
}

// inFile is one input file found by Scan.
type inFile struct {
	path   string
	device string
	kind   fileKind
	days   map[string]int // rows per day
}

// timeLayouts are the accepted forms of the Time column.
var timeLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05"}

func parseTime(s string) (date string, sec int, ok bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format("2006-01-02"), t.Hour()*3600 + t.Minute()*60 + t.Second(), true
		}
	}
	return "", 0, false
}

// deviceOf returns the device of a file: the name of the folder holding it,
// "" when that is the current or root folder.
func deviceOf(path string) string {
	d := filepath.Base(filepath.Dir(filepath.Clean(path)))
	if d == "." || d == string(filepath.Separator) || d == "" {
		return ""
	}
	return d
}

func isCSVName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz")
}

// findFiles expands the paths (files or folders, recursively) into a sorted,
// de-duplicated list of CSV files.
func findFiles(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		key := p
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &PathError{Path: p, Err: err}
		}
		if !st.IsDir() {
			add(filepath.Clean(p))
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isCSVName(d.Name()) {
				found = append(found, q)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading folder %s: %w", p, err)
		}
		sort.Strings(found)
		for _, q := range found {
			add(q)
		}
	}
	return out, nil
}

// PathError is returned by Scan for a PATH that does not exist or cannot be
// read; the command line treats it as a usage error.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %v", e.Path, errors.Unwrap(e)) }
func (e *PathError) Unwrap() error {
	var pe *fs.PathError
	if errors.As(e.Err, &pe) {
		return pe.Err
	}
	return e.Err
}

// badRows collects the rows of one file that could not be read.
type badRows struct {
	n     int
	first string
}

func (b *badRows) add(line int, format string, a ...any) {
	if b.n == 0 {
		b.first = fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, a...)
	}
	b.n++
}

// readFile reads one CSV file, calls fn for each readable row and returns the
// file's kind and its unreadable rows. An error is returned only when the file
// cannot be used at all.
func readFile(path string, fn func(*row)) (fileKind, badRows, error) {
	var bad badRows
	f, err := os.Open(path)
	if err != nil {
		return 0, bad, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return 0, bad, fmt.Errorf("not gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	lr := &lineReader{r: bufio.NewReaderSize(r, 1<<16)}
	header, _, err := lr.next()
	if err == io.EOF {
		return 0, bad, errors.New("empty file")
	}
	if err != nil {
		return 0, bad, fmt.Errorf("unreadable header: %w", err)
	}
	header = append([]string(nil), header...)
	timeCol, countCol, tsCol := -1, -1, -1
	var colOf [nCols]int
	for i := range colOf {
		colOf[i] = -1
	}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		switch h {
		case "Time":
			timeCol = i
		case "count":
			countCol = i
		case "TS":
			tsCol = i
		}
		for c, name := range colNames {
			if h == name {
				colOf[c] = i
			}
		}
	}
	var kind fileKind
	switch {
	case timeCol < 0:
		return 0, bad, errors.New("no Time column in the header: not a ts_summary or energie file")
	case countCol >= 0:
		kind = kindEnergie
	case tsCol >= 0:
		kind = kindTS
	default:
		return 0, bad, errors.New("header has neither a TS nor a count column: not a ts_summary or energie file")
	}

	var rw row
	for {
		rec, line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad.add(line, "%v", pe.Err)
				continue
			}
			return kind, bad, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			bad.add(line, "%d cells, the header has %d", len(rec), len(header))
			continue
		}
		if rec[timeCol] == "Time" {
			continue // a repeated header (files joined with cat)
		}
		date, sec, ok := parseTime(rec[timeCol])
		if !ok {
			bad.add(line, "unreadable Time %q", rec[timeCol])
			continue
		}
		rw = row{date: date, sec: sec, count: math.NaN()}
		good := true
		for c := range rw.vals {
			rw.vals[c] = math.NaN()
			i := colOf[c]
			if i < 0 {
				continue
			}
			s := strings.TrimSpace(rec[i])
			if s == "" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				bad.add(line, "%s is %q, not a number", colNames[c], s)
				good = false
				break
			}
			rw.vals[c] = v
		}
		if !good {
			continue
		}
		if kind == kindEnergie {
			if s := strings.TrimSpace(rec[countCol]); s != "" {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || !(v > 0) || math.IsInf(v, 0) {
					bad.add(line, "count is %q, not a positive number", s)
					continue
				}
				rw.count = v
			}
		}
		for i, s := range rec {
			if i != timeCol && i != countCol && strings.TrimSpace(s) != "" {
				rw.present++
			}
		}
		fn(&rw)
	}
	return kind, bad, nil
}

// lineReader splits a CSV file into records one line at a time, so that a
// damaged line (a stray quote, a half-written row) costs that line only. Our
// files never hold a line break inside a cell.
type lineReader struct {
	r    *bufio.Reader
	line int
}

// next returns the cells of the next line and its number.
func (l *lineReader) next() ([]string, int, error) {
	s, err := l.r.ReadString('\n')
	if err == io.EOF && s == "" {
		return nil, l.line, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, l.line, err
	}
	l.line++
	s = strings.TrimRight(s, "\r\n")
	if !strings.Contains(s, `"`) {
		return strings.Split(s, ","), l.line, nil
	}
	cr := csv.NewReader(strings.NewReader(s))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err == io.EOF {
		return []string{""}, l.line, nil
	}
	return rec, l.line, err
}
