package refusal_test

import (
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

func TestReasonNames(t *testing.T) {
	tests := []struct {
		r    refusal.Reason
		want string
	}{
		{refusal.NotJSON, "not_json"},
		{refusal.TooLarge, "too_large"},
		{refusal.NoMeter, "no_meter"},
		{refusal.BadTime, "bad_time"},
		{refusal.UnsafeDevice, "unsafe_device"},
		{refusal.NoValues, "no_values"},
		{refusal.SecondDevice, "second_device"},
		{refusal.BadValue, "bad_value"},
		{refusal.UnknownAttribute, "unknown_attribute"},
		{refusal.Dropped, "dropped"},
		{refusal.Reason(200), "reason(200)"},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Reason(%d).String() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	err := refusal.New(refusal.BadTime, "Time %q is not valid", "x")
	if err.Reason != refusal.BadTime {
		t.Fatalf("reason %v", err.Reason)
	}
	if got, want := err.Error(), `bad_time: Time "x" is not valid`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestCounts(t *testing.T) {
	var c refusal.Counts
	if c.Total() != 0 || c.String() != "" || len(c.Map()) != 0 {
		t.Fatalf("zero counts not empty: %v %q %v", c.Total(), c.String(), c.Map())
	}
	c.Add(refusal.NotJSON)
	c.Add(refusal.NotJSON)
	c.Add(refusal.BadValue)
	c.Add(refusal.Dropped)
	if c.Get(refusal.NotJSON) != 2 || c.Get(refusal.BadValue) != 1 || c.Get(refusal.TooLarge) != 0 {
		t.Fatalf("Get: %v", c)
	}
	if c.Total() != 4 {
		t.Fatalf("Total = %d", c.Total())
	}
	if got, want := c.String(), "not_json 2, bad_value 1, dropped 1"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	m := c.Map()
	if len(m) != 3 || m["not_json"] != 2 || m["bad_value"] != 1 || m["dropped"] != 1 {
		t.Fatalf("Map = %v", m)
	}
	if strings.Contains(c.String(), "too_large") {
		t.Fatal("zero counts listed")
	}
}
