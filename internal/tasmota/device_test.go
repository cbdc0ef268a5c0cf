package tasmota_test

import (
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

func TestTopicSegment(t *testing.T) {
	tests := []struct {
		topic string
		seg   int
		want  string
		ok    bool
	}{
		{"tele/tasmota_EB7D9F/SENSOR", -2, "tasmota_EB7D9F", true},
		{"tele/tasmota_EB7D9F/SENSOR", -1, "SENSOR", true},
		{"tele/tasmota_EB7D9F/SENSOR", -3, "tele", true},
		{"tele/tasmota_EB7D9F/SENSOR", -4, "", false},
		{"tele/tasmota_EB7D9F/SENSOR", 0, "tele", true},
		{"tele/tasmota_EB7D9F/SENSOR", 1, "tasmota_EB7D9F", true},
		{"tele/tasmota_EB7D9F/SENSOR", 2, "SENSOR", true},
		{"tele/tasmota_EB7D9F/SENSOR", 3, "", false},
		{"home/floor1/meter/tele/SENSOR", 2, "meter", true},
		{"home/floor1/meter/tele/SENSOR", -3, "meter", true},
		{"tele//SENSOR", -2, "", true},
		{"/a/", 0, "", true},
		{"/a/", 1, "a", true},
		{"single", -1, "single", true},
		{"single", -2, "", false},
		{"", 0, "", true},
	}
	for _, tc := range tests {
		got, ok := tasmota.TopicSegment(tc.topic, tc.seg)
		if got != tc.want || ok != tc.ok {
			t.Errorf("TopicSegment(%q, %d) = %q, %v; want %q, %v", tc.topic, tc.seg, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" when refused
	}{
		{"tasmota_EB7D9F", "tasmota_EB7D9F"},
		{"meter-1.home", "meter-1.home"},
		{"my meter", "my_meter"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{"a:b*c?d", "a_b_c_d"},
		{"compteur-électrique", "compteur-_lectrique"},
		{"a\u2215b", "a_b"},    // DIVISION SLASH is one character, one _
		{"a\uff0fb", "a_b"},    // FULLWIDTH SOLIDUS
		{"a%2Fb", "a_2Fb"},     // percent-encoding is not decoded
		{"a\x00b\nc", "a_b_c"}, // control characters
		{"\xff\xfe", "__"},     // invalid UTF-8: one _ per byte
		{"CON", "CON"},         // Windows-reserved names are plain names on this side
		{"NUL", "NUL"},
		{"...", "..."},
		{".hidden", ".hidden"},
		{"._", "._"},
		{"/", "_"},
		{"..\u2215..", ".._.."},
		{strings.Repeat("a", tasmota.MaxDeviceLen), strings.Repeat("a", tasmota.MaxDeviceLen)},
		// refused
		{"", ""},
		{".", ""},
		{"..", ""},
		{strings.Repeat("a", tasmota.MaxDeviceLen+1), ""},
		{strings.Repeat("é", 200), ""},
		{strings.Repeat("x", 10000), ""},
	}
	for _, tc := range tests {
		got, err := tasmota.SafeName(tc.raw)
		if tc.want == "" {
			if reasonOf(t, err) != int(refusal.UnsafeDevice) {
				t.Errorf("SafeName(%.40q) = %q, %v; want unsafe_device", tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SafeName(%.40q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}
