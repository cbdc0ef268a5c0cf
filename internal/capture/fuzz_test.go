package capture_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
)

// FuzzCaptureLine: the capture reader never panics, never loops, never returns a line over
// its maximum, and always reaches the end of the input.
func FuzzCaptureLine(f *testing.F) {
	for _, s := range []string{
		`{"topic":"tele/a/SENSOR","payload":{"Time":"2026-01-14T10:09:41","z":{"Pi":0.1}}}` + "\n",
		`{"topic":"tele/a/SENSOR","payload":"{\"Time\":\"2026-01-14T10:09:41\"}"}` + "\n",
		"tele/a/SENSOR {\"Time\":\"2026-01-14T10:09:41\",\"z\":{\"Pi\":0.1}}\r\n",
		"\n\n \n", "{", "{\"topic\":1}\n", "nospace\n", " lead\n", "\x1f\x8b\x08\x00",
		`{"topic":"t","payload":"\ud800"}`, `{"topic":"t","payload":null}`,
	} {
		f.Add([]byte(s), uint16(64))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16) {
		max := int(maxLine%512) + 1
		r, err := capture.NewReader(bytes.NewReader(data), max)
		if err != nil {
			return // a broken gzip header
		}
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("more results (%d) than input bytes (%d)", i, len(data))
			}
			topic, payload, err := r.Next()
			if err == io.EOF {
				return
			}
			var le *capture.LineError
			if err != nil {
				if errors.As(err, &le) {
					continue
				}
				if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
					return // a broken gzip stream
				}
				t.Fatalf("unexpected error %v", err)
			}
			if len(topic)+len(payload) > max+2 {
				// a JSON line may unescape to less, never to more
				t.Fatalf("message of %d bytes from lines of at most %d", len(topic)+len(payload), max)
			}
		}
	})
}
