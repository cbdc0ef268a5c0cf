package tasmota_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

var defaultColumns = []string{
	"Pi", "Po", "B1", "B2", "E1", "E2",
	"P1i", "P2i", "P3i", "P1o", "P2o", "P3o",
	"I1", "I2", "I3", "U1", "U2", "U3",
}

func newDecoder(tb testing.TB, loc *time.Location) *tasmota.Decoder {
	tb.Helper()
	if loc == nil {
		loc = time.UTC
	}
	return tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), loc, 64<<10)
}

// reasonOf is the refusal reason of err, or -1 when err is nil.
func reasonOf(tb testing.TB, err error) int {
	tb.Helper()
	if err == nil {
		return -1
	}
	var re *refusal.Error
	if !errors.As(err, &re) {
		tb.Fatalf("error %v (%T) is not a *refusal.Error", err, err)
	}
	return int(re.Reason)
}

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Skipf("no time zone %s: %v", name, err)
	}
	return loc
}
