package tasmota

import (
	"strings"
	"unicode/utf8"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// MaxDeviceLen bounds a device name: it becomes a folder or file name, and file systems
// refuse names over 255 bytes. Longer names are refused rather than cut, so that two
// devices can never be merged into one file.
const MaxDeviceLen = 128

// TopicSegment returns the segment of an MQTT topic at index seg: 0 is the first, -1 the
// last, -2 (the default) the <device> of tele/<device>/SENSOR.
func TopicSegment(topic string, seg int) (string, bool) {
	n := strings.Count(topic, "/") + 1
	if seg < 0 {
		seg += n
	}
	if seg < 0 || seg >= n {
		return "", false
	}
	for i := 0; i < seg; i++ {
		topic = topic[strings.IndexByte(topic, '/')+1:]
	}
	if j := strings.IndexByte(topic, '/'); j >= 0 {
		topic = topic[:j]
	}
	return topic, true
}

// SafeName makes a device name safe as a file or folder name: only A-Z a-z 0-9 . _ - are
// kept, every other character (or invalid byte) becomes "_". Empty, "." and ".." are
// refused, as are names longer than MaxDeviceLen.
func SafeName(raw string) (string, error) {
	if raw == "" {
		return "", refusal.New(refusal.UnsafeDevice, "the topic has an empty device segment")
	}
	clean := true
	for i := 0; i < len(raw); i++ {
		if !safeByte(raw[i]) {
			clean = false
			break
		}
	}
	name := raw
	if !clean {
		var b strings.Builder
		for i := 0; i < len(raw); {
			r, size := utf8.DecodeRuneInString(raw[i:])
			if size == 1 && safeByte(raw[i]) {
				b.WriteByte(raw[i])
			} else {
				_ = r
				b.WriteByte('_')
			}
			i += size
		}
		name = b.String()
	}
	switch {
	case name == "." || name == "..":
		return "", refusal.New(refusal.UnsafeDevice, "device name %q would name a folder outside the output", raw)
	case len(name) > MaxDeviceLen:
		return "", refusal.New(refusal.UnsafeDevice, "device name of %d bytes is longer than %d", len(name), MaxDeviceLen)
	}
	return name, nil
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}
