package deps

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/cockroachdb/apd/v3"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/influxdata/line-protocol/v2/lineprotocol"
	_ "github.com/influxdata/telegraf"
	_ "github.com/influxdata/telegraf/plugins/common/shim"
	_ "github.com/influxdata/telegraf/testutil"
	_ "github.com/mochi-mqtt/server/v2"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "gonum.org/v1/plot"
)
