// Package wall is the device's local wall-clock time as a count of seconds.
//
// Tasmota sends "Time" in the device's local time without a zone, and the SPEC keeps that wall
// time as sent (an offset is dropped, not applied). Keeping it as plain civil seconds, as if it
// were UTC, makes day boundaries and formatting exact and free of the program's own time zone
// and of daylight-saving jumps.
package wall

import "time"

// Time is seconds since 1970-01-01T00:00:00 of a wall clock, with no zone.
type Time int64

// SecondsPerDay is the length of a civil day: wall time has no DST jumps.
const SecondsPerDay = 86400

// FromCivil builds a wall time from a calendar date and a time of day.
func FromCivil(y, mo, d, h, mi, s int) Time {
	return Time(DaysFromCivil(y, mo, d)*SecondsPerDay + int64(h*3600+mi*60+s))
}

// FromTime takes the wall clock that t shows in its own location.
func FromTime(t time.Time) Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return FromCivil(y, int(mo), d, h, mi, s)
}

// Day is the number of days since 1970-01-01 (negative before it).
func (t Time) Day() int64 {
	d := int64(t) / SecondsPerDay
	if int64(t)%SecondsPerDay < 0 {
		d--
	}
	return d
}

// Civil splits t into its calendar fields.
func (t Time) Civil() (y, mo, d, h, mi, s int) {
	day := t.Day()
	y, mo, d = CivilFromDays(day)
	sec := int(int64(t) - day*SecondsPerDay)
	return y, mo, d, sec / 3600, sec / 60 % 60, sec % 60
}

// AppendISO appends "YYYY-MM-DDTHH:MM:SS", the CSV Time column.
func (t Time) AppendISO(b []byte) []byte {
	y, mo, d, h, mi, s := t.Civil()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, mo)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	return append2(b, s)
}

// String is the ISO form.
func (t Time) String() string { return string(t.AppendISO(nil)) }

// DateString is "YYYYMMDD" of a day number, the {date} of file names.
func DateString(day int64) string {
	y, mo, d := CivilFromDays(day)
	b := append4(make([]byte, 0, 8), y)
	return string(append2(append2(b, mo), d))
}

// InLocation is the instant at which a clock in loc shows t. Ambiguous and skipped wall
// times (DST changes) resolve as time.Date resolves them.
func (t Time) InLocation(loc *time.Location) time.Time {
	y, mo, d, h, mi, s := t.Civil()
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
}

// DaysFromCivil counts days since 1970-01-01 for a proleptic Gregorian date
// (H. Hinnant's algorithm: exact for every year, no tables).
func DaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

// DaysIn is the number of days of a month.
func DaysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
