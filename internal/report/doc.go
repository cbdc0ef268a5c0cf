// Package report reads the CSV files written by mqtttocsv (ts_summary_*.csv and
// energie_*.csv, see SPEC.md) and summarises them per device and per day; it
// also draws one picture per device-day. It backs `mqtttocsv report`.
//
// # Inputs
//
// Files or folders (walked recursively; *.csv and *.csv.gz). A file is a TS file
// when its header has a TS column and no count column, an energie file when its
// header has a count column; other CSV files are skipped with a warning. Columns
// are found by name in the header, in any order; missing columns are allowed and
// an empty cell is a missing value (never 0). The device is the name of the
// folder holding the file (the default layout {device}/file); a file lying in
// the current folder has device "" (shown "-"). The day of a row is the date
// of its Time column (YYYY-MM-DDTHH:MM:SS, the meter's wall time), not the date
// in the file name, so several files of the same device and day (a restart
// gives _0000 and _1015) are merged, and a file holding rows of two days
// contributes to both. Rows that cannot be read (unreadable Time, a cell that
// is not a number in a numeric column, a wrong number of cells, a count that is
// not a positive number) are skipped and counted, with one warning per file.
//
// # Units
//
// Pi/Po kW (import/export power), E1/E2 kWh (import/export meter counters),
// B1/B2 kvarh (reactive counters), P1i..P3i / P1o..P3o kW (per-phase power),
// I1..I3 A, U1..U3 V.
//
// # Per-second means
//
// An energie row holds, for one second, the SUM of the values received in that
// second and a count of the messages merged into the row. The per-second mean
// of an attribute is its sum divided by the number of messages that carried
// it. The writer counts messages, not values per attribute, and Tasmota sends
// one attribute per message, so by default (DivideAuto) each row's count is
// shared equally between the attributes present in the row: a row Pi=7.2,
// count=2 gives 3.6 kW; a row Pi=3.6,U1=230,count=2 gives 3.6 kW and 230 V.
// When only one attribute is present this is exactly value/count. DivideCount
// divides every value by count (right when every message carried every
// attribute); DivideNone takes the values as they are (files written with
// aggregation mean, min, max, first or last).
//
// When the same second appears in several rows (a late message gives an extra
// row for a second already written), the rows are merged by adding their sums
// and their message counts: the second's mean is taken over all its messages
// and the second counts once, never twice, in the integration.
//
// # Figures
//
// Per device and day:
//   - energy imported/exported from the counters: last minus first E1/E2 of the
//     day's TS rows (energy before the first and after the last summary of the
//     day is not counted);
//   - the same by integration: sum over the seconds of the per-second mean
//     Pi/Po (kW) x 1 s, divided by 3600 to give kWh; seconds without data add
//     nothing, so the integration falls short of the counters when data is
//     missing (compare with the coverage);
//   - reactive energy: last minus first B1/B2 (kvarh) of the TS rows;
//   - peak import and export power (largest per-second mean Pi/Po) and the
//     time of its first occurrence;
//   - per-phase voltage min/mean/max and current max, over per-second means;
//   - seconds with data (energie seconds holding at least one value), the share
//     of the day they cover (seconds/86400), the first and last such second;
//   - gaps longer than a minute: two consecutive seconds with data more than
//     60 s apart; a gap runs from the last second with data to the next one.
//     Time before the first and after the last second of the day is not a gap
//     (see first/last and the coverage).
//
// # Plots
//
// WritePlot draws three panels stacked in one PNG (1200x900 px) or SVG
// (12in x 9in): import/export power per second with the non-zero TS summary values
// marked, per-phase power, and per-phase voltage with the 230 V ±10 % band
// (207-253 V). The X axis spans the whole day in wall-clock time (the CSV's
// Time, drawn as if it were UTC so that labels show it unchanged). Lines are
// broken where data is missing for more than 60 s.
package report
