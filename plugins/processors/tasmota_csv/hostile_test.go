package tasmota_csv

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/hostiletest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv/csvtest"
)

// kv turns a map of column → cell into the "k=v" arguments of enRow and tsRow.
func kv(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// expectedRows are the rows the hostile cases make, by file kind ("energie", "ts").
type expectedRows map[string][]string

func (e expectedRows) add(x csvtest.Expect, tm string) {
	if x.En != nil {
		e["energie"] = append(e["energie"], enRow(tm, x.RowCount(), kv(x.En)...))
	}
	if x.TS != nil {
		e["ts"] = append(e["ts"], tsRow(tm, x.TS[0], x.TS[1], "Pi="+x.TS[2]))
	}
}

// withRows adds rows to the standalone's files: each file of ref (one device, one day)
// gets the rows of its kind, in the order of their Time, as the processor writes them
// when each second comes from one message or one group of messages.
func withRows(t *testing.T, ref csvtest.Tree, rows expectedRows) csvtest.Tree {
	t.Helper()
	out := csvtest.Tree{}
	used := map[string]bool{}
	for name, b := range ref {
		kind := "energie"
		if strings.Contains(name, "/ts_") {
			kind = "ts"
		}
		header, body, _ := strings.Cut(string(b), "\n")
		var lines []string
		for _, l := range strings.SplitAfter(body, "\n") {
			if l != "" {
				lines = append(lines, l) // the good rows hold no line break of their own
			}
		}
		lines = append(lines, rows[kind]...)
		used[kind] = true
		sort.SliceStable(lines, func(i, j int) bool { return lines[i][:19] < lines[j][:19] })
		out[name] = []byte(header + "\n" + strings.Join(lines, ""))
	}
	for kind, r := range rows {
		if len(r) > 0 && !used[kind] {
			t.Fatalf("the standalone wrote no %s file for the good messages", kind)
		}
	}
	return out
}

// TestHostileCatalogueThroughJSONv2 sends the hostile catalogue of internal/hostiletest
// (the one the standalone's engine is tested with) through Telegraf's json_v2 parser set
// up as in sample.conf, then through the processor, each payload followed by good
// messages. A payload json_v2 refuses never reaches the processor (inputs.mqtt_consumer
// logs and drops it). Nothing panics; every metric passes through unchanged; the
// processor counts for each payload the refusals csvtest.Plugin expects (the standalone's,
// but where json_v2 reads the JSON its own way); the files hold exactly the rows the
// standalone's engine writes for the good messages, byte for byte, and the usable part of
// the hostile ones.
func TestHostileCatalogueThroughJSONv2(t *testing.T) {
	csvtest.CheckDiffNames(t)
	cases := hostiletest.Catalogue()
	require.GreaterOrEqual(t, len(cases), 40)
	now := time.Date(2026, 1, 14, 10, 21, 7, 0, time.UTC)
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.Timezone = "UTC" // for the epoch Times
		p.now = func() time.Time { return now }
	})
	parser := csvtest.JSONv2(t, "z")

	var passed []telegraf.Metric // a copy of every metric given to Add
	add := func(name string, m telegraf.Metric) {
		t.Helper()
		passed = append(passed, m.Copy())
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic: %v", name, r)
			}
		}()
		require.NoError(t, p.Add(m, acc), name)
	}
	var good []csvtest.Message
	rows := expectedRows{}
	refusedByParser := 0
	for i, c := range cases {
		hs, gs := 2*i, 2*i+1
		want := csvtest.Plugin(c)
		before := p.Stats()
		ms, err := csvtest.HostileMetrics(parser, c, hs, topic)
		switch {
		case err != nil && !want.Parser:
			t.Errorf("%s: json_v2 refuses it (%.200s), want it to reach the processor", c.Name, err)
		case err == nil && want.Parser:
			t.Errorf("%s: json_v2 makes %d metrics of it, want a parse error", c.Name, len(ms))
		case err != nil:
			refusedByParser++
		}
		for _, m := range ms {
			add(c.Name, m)
		}
		after := p.Stats()
		require.Equal(t, before.Received+uint64(len(ms)), after.Received, c.Name)
		for r := refusal.NotJSON; r <= refusal.Dropped; r++ {
			if got, w := after.Refused.Get(r)-before.Refused.Get(r), want.Refused[r]; got != w {
				t.Errorf("%s: %s counted %d, want %d", c.Name, r, got, w)
			}
		}
		rows.add(want, hostiletest.Second(hs))

		for _, g := range hostiletest.Good(i, gs) {
			msg := csvtest.Message{Topic: topic, Payload: []byte(g)}
			good = append(good, msg)
			ms, err := parser.Parse(msg.Payload)
			require.NoError(t, err)
			for _, m := range ms {
				m.AddTag("topic", topic)
				m.SetTime(time.Unix(int64(hostiletest.Base+gs), 0))
				add("good after "+c.Name, m)
			}
		}
		if st := p.Stats(); st.Refused.Total() != after.Refused.Total() {
			t.Errorf("good messages after %s refused: %s", c.Name, st.Refused.String())
		}
		if i%7 == 6 {
			p.Flush()
		}
	}
	p.Stop()
	t.Logf("%d cases, %d refused by json_v2", len(cases), refusedByParser)

	testutil.RequireMetricsEqual(t, passed, acc.GetTelegrafMetrics())

	refDir := t.TempDir()
	csvtest.Live(t, p.Options, good, refDir, now)
	want := withRows(t, csvtest.ReadTree(t, refDir), rows)
	require.Len(t, want, 2)
	if d := csvtest.Diff(want, csvtest.ReadTree(t, p.OutDir)); d != "" {
		if len(d) > 4000 {
			d = d[:4000] + "…"
		}
		t.Fatalf("files differ from the standalone's good rows plus the expected hostile rows:\n%s", d)
	}
}

// FlatJSONv2 stands in for json_v2 on the payload json_v2 takes minutes on: it makes the
// same metric at a size json_v2 parses quickly.
func TestFlatJSONv2IsJSONv2(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Time":"2026-01-14T10:00:00","z":{`)
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, `"x%d":%d,`, i, i)
	}
	b.WriteString(`"TS":"abc","NS":1.5,"Pi":13}}`)
	want, err := csvtest.JSONv2(t, "z").Parse([]byte(b.String()))
	require.NoError(t, err)
	require.Len(t, want, 1)
	got, err := csvtest.FlatJSONv2([]byte(b.String()), "z")
	require.NoError(t, err)
	require.Len(t, got.FieldList(), 304)
	testutil.RequireMetricsEqual(t, want, []telegraf.Metric{got}, testutil.IgnoreTime())
	var wk, gk []string
	for _, f := range want[0].FieldList() {
		wk = append(wk, f.Key)
	}
	for _, f := range got.FieldList() {
		gk = append(gk, f.Key)
	}
	require.Equal(t, wk, gk, "the fields come in the same order")
}

// A sum beyond the range of a float64 is written exactly in the file; its aggregate has no
// field for it rather than +Inf.
func TestAggregateOfAHugeSum(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.EmitAggregates = true
		p.DropOriginal = true
	})
	for _, f := range []map[string]any{
		{"Pi": math.MaxFloat64, "Po": 1.0, "Time": "2026-01-14T10:09:41"},
		{"Pi": math.MaxFloat64, "Po": 2.0, "Time": "2026-01-14T10:09:41"},
	} {
		require.NoError(t, p.Add(sensor(f), acc))
	}
	p.Stop()
	ms := acc.GetTelegrafMetrics()
	require.Len(t, ms, 1)
	require.Equal(t, map[string]any{"Po": 3.0, "count": int64(2)}, ms[0].Fields())
	twice := "35953862697246314" + strings.Repeat("0", 292) // 2 × 1.7976931348623157e308
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 2, "Pi="+twice, "Po=3"), readFile(t, p, "dev1/energie_20260114_2358.csv"))
}
