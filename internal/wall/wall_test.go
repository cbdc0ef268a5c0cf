package wall_test

import (
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

func TestCivilRoundTrip(t *testing.T) {
	tests := []struct {
		y, mo, d, h, mi, s int
		iso                string
		date               string
	}{
		{1970, 1, 1, 0, 0, 0, "1970-01-01T00:00:00", "19700101"},
		{2026, 1, 14, 10, 9, 40, "2026-01-14T10:09:40", "20260114"},
		{2024, 2, 29, 23, 59, 59, "2024-02-29T23:59:59", "20240229"},
		{2000, 2, 29, 12, 0, 0, "2000-02-29T12:00:00", "20000229"},
		{1900, 3, 1, 0, 0, 1, "1900-03-01T00:00:01", "19000301"},
		{1, 1, 1, 0, 0, 0, "0001-01-01T00:00:00", "00010101"},
		{9999, 12, 31, 23, 59, 59, "9999-12-31T23:59:59", "99991231"},
		{1969, 12, 31, 23, 59, 59, "1969-12-31T23:59:59", "19691231"},
	}
	for _, tc := range tests {
		w := wall.FromCivil(tc.y, tc.mo, tc.d, tc.h, tc.mi, tc.s)
		if got := w.String(); got != tc.iso {
			t.Errorf("%v: String = %q, want %q", tc, got, tc.iso)
		}
		if got := wall.DateString(w.Day()); got != tc.date {
			t.Errorf("%v: DateString = %q, want %q", tc, got, tc.date)
		}
		y, mo, d, h, mi, s := w.Civil()
		if y != tc.y || mo != tc.mo || d != tc.d || h != tc.h || mi != tc.mi || s != tc.s {
			t.Errorf("%v: Civil = %d %d %d %d %d %d", tc, y, mo, d, h, mi, s)
		}
		// the same instant as time.Time in UTC
		want := time.Date(tc.y, time.Month(tc.mo), tc.d, tc.h, tc.mi, tc.s, 0, time.UTC).Unix()
		if int64(w) != want {
			t.Errorf("%v: seconds %d, want %d", tc, int64(w), want)
		}
	}
}

func TestDayBoundaries(t *testing.T) {
	tests := []struct {
		t    wall.Time
		day  int64
		name string
	}{
		{0, 0, "epoch"},
		{86399, 0, "last second of day 0"},
		{86400, 1, "first second of day 1"},
		{-1, -1, "last second before the epoch"},
		{-86400, -1, "first second of day -1"},
		{-86401, -2, "last second of day -2"},
	}
	for _, tc := range tests {
		if got := tc.t.Day(); got != tc.day {
			t.Errorf("%s: Day(%d) = %d, want %d", tc.name, tc.t, got, tc.day)
		}
	}
}

func TestDaysFromCivilMatchesTime(t *testing.T) {
	start := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 400*366+400; d += 37 {
		tt := start.AddDate(0, 0, d)
		got := wall.DaysFromCivil(tt.Year(), int(tt.Month()), tt.Day())
		if want := tt.Unix() / 86400; got != want {
			t.Fatalf("%s: %d, want %d", tt.Format("2006-01-02"), got, want)
		}
		y, m, dd := wall.CivilFromDays(got)
		if y != tt.Year() || m != int(tt.Month()) || dd != tt.Day() {
			t.Fatalf("CivilFromDays(%d) = %d-%d-%d, want %s", got, y, m, dd, tt.Format("2006-01-02"))
		}
	}
}

func TestDaysIn(t *testing.T) {
	tests := []struct{ y, m, want int }{
		{2026, 1, 31}, {2026, 2, 28}, {2024, 2, 29}, {1900, 2, 28}, {2000, 2, 29},
		{2026, 4, 30}, {2026, 6, 30}, {2026, 9, 30}, {2026, 11, 30}, {2026, 12, 31},
	}
	for _, tc := range tests {
		if got := wall.DaysIn(tc.y, tc.m); got != tc.want {
			t.Errorf("DaysIn(%d, %d) = %d, want %d", tc.y, tc.m, got, tc.want)
		}
	}
}

func TestFromTimeKeepsWallClock(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 1, 14, 10, 9, 40, 0, paris), "2026-01-14T10:09:40"},
		{time.Date(2026, 7, 14, 23, 30, 0, 0, paris), "2026-07-14T23:30:00"},
		{time.Date(2026, 1, 14, 10, 9, 40, 999999999, time.UTC), "2026-01-14T10:09:40"},
		{time.Unix(1768385380, 0).In(time.UTC), "2026-01-14T10:09:40"},
		{time.Unix(1768385380, 0).In(paris), "2026-01-14T11:09:40"},
	}
	for _, tc := range tests {
		if got := wall.FromTime(tc.in).String(); got != tc.want {
			t.Errorf("FromTime(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	w := wall.FromCivil(2026, 1, 14, 10, 9, 40)
	if got := w.InLocation(paris); !got.Equal(time.Date(2026, 1, 14, 10, 9, 40, 0, paris)) {
		t.Errorf("InLocation = %s", got)
	}
}
