package sink

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Template is a parsed file-name template such as "{device}/energie_{date}_{time}.csv".
// Names are always slash-separated and relative to the output folder.
type Template struct {
	parts     []part
	HasDevice bool
}

type part struct {
	lit string
	ph  placeholder
}

type placeholder uint8

const (
	phNone placeholder = iota
	phDevice
	phDate
	phTime
)

// ParseTemplate checks a template: only {device}, {date} and {time}, relative, never
// climbing out of the output folder.
func ParseTemplate(s string) (Template, error) {
	var t Template
	if s == "" {
		return t, errors.New("the file name template is empty")
	}
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, `\`) || (len(s) > 1 && s[1] == ':') {
		return t, fmt.Errorf("%q is absolute: give a name relative to out_dir", s)
	}
	if strings.ContainsRune(s, 0) || strings.ContainsRune(s, '\\') {
		return t, fmt.Errorf("%q contains a NUL or backslash: use / between folders", s)
	}
	rest := s
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return t, fmt.Errorf("%q has an unclosed {", s)
		}
		switch name := rest[i+1 : i+j]; name {
		case "device":
			t.parts = append(t.parts, part{ph: phDevice})
			t.HasDevice = true
		case "date":
			t.parts = append(t.parts, part{ph: phDate})
		case "time":
			t.parts = append(t.parts, part{ph: phTime})
		default:
			return t, fmt.Errorf("%q uses {%s}: only {device}, {date} and {time} exist", s, name)
		}
		rest = rest[i+j+1:]
	}
	// Placeholders expand to safe names (device names are sanitized, dates are digits), so
	// checking the literal skeleton is enough to prove the result stays inside out_dir.
	probe := t.Expand("d", "20060102", "1504")
	for _, seg := range strings.Split(probe, "/") {
		if seg == ".." {
			return t, fmt.Errorf("%q climbs out of out_dir with ..", s)
		}
	}
	if strings.HasSuffix(s, "/") || path.Base(probe) == "." {
		return t, fmt.Errorf("%q names a folder, not a file", s)
	}
	return t, nil
}

// Expand fills the placeholders.
func (t Template) Expand(device, date, hhmm string) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ph {
		case phNone:
			b.WriteString(p.lit)
		case phDevice:
			b.WriteString(device)
		case phDate:
			b.WriteString(date)
		case phTime:
			b.WriteString(hhmm)
		}
	}
	return path.Clean(b.String())
}
