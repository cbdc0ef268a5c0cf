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
	// table is an open-addressing hash table of the names (Lookup's hot path: cheaper
	// than the map for these short keys, and it never hashes a whole long key).
	table [schemaSlots]schemaSlot
}

// schemaSlots is a power of two well above the 64 columns a Reading can hold.
const schemaSlots = 256

type schemaSlot struct {
	name string
	col  int // column + 1; 0 is an empty slot
}

// schemaHash mixes the length and three bytes of a name: enough to tell apart the short
// attribute names of a meter (P1i, P2i, P1o ...).
func schemaHash[S string | []byte](s S) uint32 {
	n := len(s)
	if n == 0 {
		return 0
	}
	x := uint32(n) | uint32(s[0])<<8 | uint32(s[n/2])<<16 | uint32(s[n-1])<<24
	return (x * 0x9E3779B1) >> 24
}

// NewSchema builds the schema of the configured columns (config validated them).
func NewSchema(columns []string) *Schema {
	s := &Schema{names: append([]string{"TS", "NS"}, columns...), index: map[string]int{}}
	for i, n := range s.names {
		s.index[n] = i
	}
	// A repeated name keeps its last column, as the map does.
	for n, i := range s.index {
		h := schemaHash(n)
		for s.table[h].col != 0 {
			h = (h + 1) % schemaSlots
		}
		s.table[h] = schemaSlot{name: n, col: i + 1}
	}
	return s
}

// Len is the number of columns including TS and NS.
func (s *Schema) Len() int { return len(s.names) }

// Name is the attribute name of a column.
func (s *Schema) Name(i int) string { return s.names[i] }

// Lookup finds a column by attribute name; -1 when it is not a column.
func (s *Schema) Lookup(name []byte) int {
	h := schemaHash(name)
	for {
		sl := &s.table[h]
		if sl.col == 0 {
			return -1
		}
		if sl.name == string(name) {
			return sl.col - 1
		}
		h = (h + 1) % schemaSlots
	}
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
	// Exact bit i: Num[i] came as a plain decimal literal of at most 15 significant
	// digits, which is Mant[i] × 10^Exp[i] exactly, with no trailing zero in Mant[i] — the
	// shortest decimal form of Num[i], ready for exact sums without formatting Num[i].
	Exact uint64
	Mant  [64]int64
	Exp   [64]int32
	Text  []byte // TS as text (valid when Set has ColTS)
	Skips []Skip
}

// Reset empties r for the next message, keeping its buffers.
func (r *Reading) Reset() {
	r.Time = 0
	r.Summary = false
	r.Set = 0
	r.Exact = 0
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
	r.Exact &^= 1 << uint(i)
}

// SetExact stores a numeric value and its exact decimal form: v = mant × 10^exp, mant
// without trailing zeros (see Reading.Exact).
func (r *Reading) SetExact(i int, v float64, mant int64, exp int32) {
	r.SetNum(i, v)
	r.Mant[i], r.Exp[i] = mant, exp
	r.Exact |= 1 << uint(i)
}

// SetText stores the TS text (copied into r's own buffer).
func (r *Reading) SetText(b []byte) {
	r.Text = append(r.Text[:0], b...)
	r.Set |= 1 << ColTS
}
