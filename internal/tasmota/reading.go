// Package tasmota turns what a Tasmota SML meter publishes into Readings: the JSON payload
// (all the Time forms Tasmota sends) and the device name from the topic. It owns the SPEC
// rules "Time column", "Devices and topics" and the message-level part of "Bad input".
package tasmota

import (
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// Column indexes shared by the TS and energie rows: TS and NS only appear in the TS file,
// the configured columns follow from FirstColumn on.
const (
	ColTS       = 0
	ColNS       = 1
	FirstColumn = 2
)

// Schema maps attribute names to column indexes.
type Schema struct {
	names []string
	index map[string]int
}

// NewSchema builds the schema of the configured columns (config validated them).
func NewSchema(columns []string) *Schema {
	s := &Schema{names: append([]string{"TS", "NS"}, columns...), index: map[string]int{}}
	for i, n := range s.names {
		s.index[n] = i
	}
	return s
}

// Len is the number of columns including TS and NS.
func (s *Schema) Len() int { return len(s.names) }

// Name is the attribute name of a column.
func (s *Schema) Name(i int) string { return s.names[i] }

// Lookup finds a column by attribute name; -1 when it is not a column. Converting the
// key inside the map index does not allocate.
func (s *Schema) Lookup(name []byte) int {
	if i, ok := s.index[string(name)]; ok {
		return i
	}
	return -1
}

// LookupString is Lookup for a string.
func (s *Schema) LookupString(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Skip is one value refused inside an otherwise usable message.
type Skip struct {
	Reason refusal.Reason
	Name   string
	Detail string
}

// Reading is one usable message: its wall time, whether it is a summary, and its values.
// A Reading is reused from message to message, so decoding allocates nothing in the
// common case; Text may point into the payload and is only valid until the next message.
type Reading struct {
	Time    wall.Time
	Summary bool
	Set     uint64      // bit i: column i has a value
	Num     [64]float64 // numeric values by column
	Text    []byte      // TS as text (valid when Set has ColTS)
	Skips   []Skip
}

// Reset empties r for the next message, keeping its buffers.
func (r *Reading) Reset() {
	r.Time = 0
	r.Summary = false
	r.Set = 0
	r.Text = r.Text[:0]
	r.Skips = r.Skips[:0]
}

// Has reports whether column i has a value.
func (r *Reading) Has(i int) bool { return r.Set&(1<<uint(i)) != 0 }

// SetNum stores a numeric value.
func (r *Reading) SetNum(i int, v float64) {
	if v == 0 {
		v = 0 // -0 reads as 0: nobody wants "-0" in a spreadsheet
	}
	r.Num[i] = v
	r.Set |= 1 << uint(i)
}

// SetText stores the TS text (copied into r's own buffer).
func (r *Reading) SetText(b []byte) {
	r.Text = append(r.Text[:0], b...)
	r.Set |= 1 << ColTS
}
