package tasmota

import (
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// EpochTime is the wall time of epoch seconds v shown in loc, with the same bounds and
// rounding as a numeric Time in a payload (Tasmota "Time 3"). It is for front doors that
// receive Time already decoded as a number, such as Telegraf metrics.
func EpochTime(v float64, loc *time.Location) (wall.Time, *refusal.Error) {
	return epoch(v, true, loc)
}
