package capture_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
)

type msg struct {
	topic, payload string
	err            string // "" ok, "line" a *LineError, "large" a too-large *LineError
}

func readAll(t *testing.T, r io.Reader, maxLine int) []msg {
	t.Helper()
	cr, err := capture.NewReader(r, maxLine)
	if err != nil {
		t.Fatal(err)
	}
	var out []msg
	for i := 0; i < 1000; i++ {
		topic, payload, err := cr.Next()
		if err == io.EOF {
			return out
		}
		var le *capture.LineError
		switch {
		case err == nil:
			out = append(out, msg{topic: topic, payload: string(payload)})
		case errors.As(err, &le) && le.TooLarge:
			out = append(out, msg{err: "large"})
		case errors.As(err, &le):
			out = append(out, msg{err: "line"})
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	t.Fatal("no EOF")
	return nil
}

func TestReaderForms(t *testing.T) {
	const p = `{"Time":"2026-01-14T10:09:41","z":{"Pi":0.1}}`
	tests := []struct {
		name  string
		input string
		want  []msg
	}{
		{"JSON line, object payload", `{"topic":"tele/a/SENSOR","payload":` + p + `}` + "\n",
			[]msg{{topic: "tele/a/SENSOR", payload: p}}},
		{"JSON line, spaces around object payload", `{"topic": "tele/a/SENSOR", "payload": ` + p + ` }` + "\n",
			[]msg{{topic: "tele/a/SENSOR", payload: p}}},
		{"JSON line, string payload", `{"topic":"tele/a/SENSOR","payload":"{\"Time\":\"2026-01-14T10:09:41\",\"z\":{\"Pi\":0.1}}"}` + "\n",
			[]msg{{topic: "tele/a/SENSOR", payload: p}}},
		{"JSON line, plain string payload", `{"topic":"tele/a/LWT","payload":"Online"}` + "\n",
			[]msg{{topic: "tele/a/LWT", payload: "Online"}}},
		{"JSON line, payload first", `{"payload":{"a":1},"topic":"t/x/y"}`,
			[]msg{{topic: "t/x/y", payload: `{"a":1}`}}},
		{"JSON line, null payload", `{"topic":"t/x/y","payload":null}`,
			[]msg{{topic: "t/x/y", payload: `null`}}},
		{"JSON line, no payload", `{"topic":"t/x/y"}`,
			[]msg{{topic: "t/x/y", payload: ``}}},
		{"mosquitto_sub -v", "tele/a/SENSOR " + p + "\n",
			[]msg{{topic: "tele/a/SENSOR", payload: p}}},
		{"mosquitto_sub -v, CRLF", "tele/a/SENSOR " + p + "\r\n",
			[]msg{{topic: "tele/a/SENSOR", payload: p}}},
		{"mosquitto_sub -v, payload with spaces", "tele/a/LWT Offline now\n",
			[]msg{{topic: "tele/a/LWT", payload: "Offline now"}}},
		{"mosquitto_sub -v, empty payload", "tele/a/LWT \n",
			[]msg{{topic: "tele/a/LWT", payload: ""}}},
		{"no final newline", "t/a/b x",
			[]msg{{topic: "t/a/b", payload: "x"}}},
		{"blank lines", "\n\n   \n\r\nt/a/b x\n\n\t\n",
			[]msg{{topic: "t/a/b", payload: "x"}}},
		{"mixed", `{"topic":"t/1/S","payload":{"a":1}}` + "\n" + "t/2/S {\"b\":2}\n" + `{"topic":"t/3/S","payload":"c"}` + "\n",
			[]msg{{topic: "t/1/S", payload: `{"a":1}`}, {topic: "t/2/S", payload: `{"b":2}`}, {topic: "t/3/S", payload: "c"}}},
		{"no space", "justoneword\nt/a/b x\n", []msg{{err: "line"}, {topic: "t/a/b", payload: "x"}}},
		{"leading space", " t/a/b x\n", []msg{{err: "line"}}},
		{"broken JSON line", "{\"topic\":\"t\",\n t/a/b x\n", []msg{{err: "line"}, {err: "line"}}},
		{"JSON line without topic", `{"payload":{}}` + "\n", []msg{{err: "line"}}},
		{"JSON line, topic not a string", `{"topic":1,"payload":{}}` + "\n", []msg{{err: "line"}}},
		{"JSON line, bad string payload", `{"topic":"t","payload":"\x"}` + "\n", []msg{{err: "line"}}},
		{"empty input", "", nil},
	}
	for _, tc := range tests {
		got := readAll(t, strings.NewReader(tc.input), 1<<20)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: message %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestReaderGzip(t *testing.T) {
	var plain strings.Builder
	for i := 0; i < 5000; i++ {
		plain.WriteString(`{"topic":"tele/a/SENSOR","payload":{"Time":"2026-01-14T10:09:41","z":{"Pi":0.1}}}` + "\n")
		plain.WriteString("tele/b/SENSOR {\"x\":1}\n")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(plain.String()))
	zw.Close()
	got := readAll2(t, &gz)
	if got != 10000 {
		t.Fatalf("gzip: %d messages, want 10000", got)
	}
	// a stream that starts like gzip but is not one
	if _, err := capture.NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), 100); err == nil {
		t.Fatal("broken gzip header accepted")
	}
}

func readAll2(t *testing.T, r io.Reader) int {
	cr, err := capture.NewReader(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, _, err := cr.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

func TestReaderMaxLine(t *testing.T) {
	const maxLine = 1000
	long := func(n int) string { return "t/a/b " + strings.Repeat("x", n-6) }
	tests := []struct {
		name  string
		input string
		want  []msg
	}{
		{"at the limit", long(maxLine) + "\nt/c/d y\n", []msg{{topic: "t/a/b", payload: strings.Repeat("x", maxLine-6)}, {topic: "t/c/d", payload: "y"}}},
		{"just over", long(maxLine+1) + "\nt/c/d y\n", []msg{{err: "large"}, {topic: "t/c/d", payload: "y"}}},
		{"far over, inside the read buffer", long(100000) + "\nt/c/d y\n", []msg{{err: "large"}, {topic: "t/c/d", payload: "y"}}},
		{"far over, past the read buffer", long(3<<20) + "\nt/c/d y\n", []msg{{err: "large"}, {topic: "t/c/d", payload: "y"}}},
		{"over at the end", "t/c/d y\n" + long(3<<20), []msg{{topic: "t/c/d", payload: "y"}, {err: "large"}}},
		{"JSON over", `{"topic":"t","payload":"` + strings.Repeat("x", 2000) + `"}` + "\nt/c/d y\n", []msg{{err: "large"}, {topic: "t/c/d", payload: "y"}}},
	}
	for _, tc := range tests {
		got := readAll(t, strings.NewReader(tc.input), maxLine)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d messages, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: message %d = %.60v, want %.60v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestReaderLongLineWithinMax(t *testing.T) {
	// a line longer than the read buffer but within the max is read whole
	payload := `{"TS":"` + strings.Repeat("y", 600<<10) + `"}`
	got := readAll(t, strings.NewReader("t/a/b "+payload+"\nt/c/d y\n"), 1<<20)
	if len(got) != 2 || got[0].payload != payload || got[1].topic != "t/c/d" {
		t.Fatalf("long line: %d messages", len(got))
	}
}

// TestReaderLongLineNotKept: a huge line over the max is skipped without holding it in
// memory.
func TestReaderLongLineNotKept(t *testing.T) {
	cr, err := capture.NewReader(io.MultiReader(&endless{n: 200 << 20}, strings.NewReader("\nt/c/d y\n")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtimeMem
	before.read()
	_, _, err = cr.Next()
	var le *capture.LineError
	if !errors.As(err, &le) || !le.TooLarge {
		t.Fatalf("err %v, want a too-large line", err)
	}
	after.read()
	if grow := int64(after.total) - int64(before.total); grow > 64<<20 {
		t.Fatalf("skipping a 200 MiB line allocated %d MiB", grow>>20)
	}
	topic, _, err := cr.Next()
	if err != nil || topic != "t/c/d" {
		t.Fatalf("next line: %q %v", topic, err)
	}
}

type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	if len(p) > e.n {
		p = p[:e.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	e.n -= len(p)
	return len(p), nil
}

func TestReaderTestdataCapture(t *testing.T) {
	f, err := os.Open("testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := readAll(t, f, 64<<10)
	want := []msg{
		{topic: "tele/tasmota_EB7D9F/SENSOR", payload: `{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411}}`},
		{topic: "tele/tasmota_EB7D9F/SENSOR", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`},
		{topic: "tele/tasmota_EB7D9F/SENSOR", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":0.1}}`},
		{topic: "tele/tasmota_EB7D9F/LWT", payload: `Online`},
		{err: "line"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
