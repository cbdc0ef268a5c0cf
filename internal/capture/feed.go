package capture

import (
	"errors"
	"fmt"
	"io"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// Sink takes the messages of a capture; *engine.Engine is one.
type Sink interface {
	HandleMessage(topic string, payload []byte)
	// Refuse counts a line that is not a message, as a received message refused.
	Refuse(source string, err *refusal.Error)
}

// Feed reads a whole capture into s: every message, and every line that is not one as a
// refusal (not_json, or too_large past maxLine). It returns the number of messages handed
// over; an error is a failure to read, not a bad line.
func Feed(name string, in io.Reader, maxLine int, s Sink) (int, error) {
	r, err := NewReader(in, maxLine)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	n := 0
	for {
		topic, payload, err := r.Next()
		if err == nil {
			s.HandleMessage(topic, payload)
			n++
			continue
		}
		if err == io.EOF {
			return n, nil
		}
		var le *LineError
		if errors.As(err, &le) {
			reason := refusal.NotJSON
			if le.TooLarge {
				reason = refusal.TooLarge
			}
			s.Refuse(name, &refusal.Error{Reason: reason, Detail: le.Error()})
			continue
		}
		return n, fmt.Errorf("reading %s: %w", name, err)
	}
}
