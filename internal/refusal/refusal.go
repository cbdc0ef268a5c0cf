// Package refusal names the reasons a message, a value or a row is not used, and counts them.
// Every refusal has a reason so that a user can see, in the exit summary and in verbose mode,
// what was lost and why.
package refusal

import (
	"fmt"
	"strings"
)

// Reason is why something was refused.
type Reason uint8

// The reasons. Message-level ones refuse the whole message; BadValue and UnknownAttribute
// refuse one value and keep the rest of the message.
const (
	NotJSON          Reason = iota // the payload is not a JSON object
	TooLarge                       // the payload is over max_payload, refused unread
	NoMeter                        // no meter object (other sensors, LWT, STATE)
	BadTime                        // missing or unreadable Time
	UnsafeDevice                   // the topic gives no usable device name
	NoValues                       // the meter object has no usable value
	SecondDevice                   // a second device with a file template without {device}
	BadValue                       // one value is not a number where a number is expected
	UnknownAttribute               // one attribute is not among the columns
	Dropped                        // rows dropped after the disk refused writes too long
	numReasons
)

var names = [numReasons]string{
	"not_json", "too_large", "no_meter", "bad_time", "unsafe_device", "no_values",
	"second_device", "bad_value", "unknown_attribute", "dropped",
}

func (r Reason) String() string {
	if r < numReasons {
		return names[r]
	}
	return fmt.Sprintf("reason(%d)", r)
}

// Error is a refusal with the detail a user needs to find the cause.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string { return e.Reason.String() + ": " + e.Detail }

// New builds a refusal.
func New(r Reason, format string, a ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, a...)}
}

// Counts counts refusals by reason.
type Counts [numReasons]uint64

// Add counts one refusal.
func (c *Counts) Add(r Reason) { c[r]++ }

// Get is the count for a reason.
func (c *Counts) Get(r Reason) uint64 { return c[r] }

// Total is the sum of all counts.
func (c *Counts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// Map returns the non-zero counts by name.
func (c *Counts) Map() map[string]uint64 {
	m := map[string]uint64{}
	for i, v := range c {
		if v > 0 {
			m[names[i]] = v
		}
	}
	return m
}

// String lists the non-zero counts, e.g. "not_json 2, bad_value 1".
func (c *Counts) String() string {
	var parts []string
	for i, v := range c {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", names[i], v))
		}
	}
	return strings.Join(parts, ", ")
}
