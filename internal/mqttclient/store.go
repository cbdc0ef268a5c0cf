package mqttclient

import (
	"strings"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// store is paho's memory store, except that it does not keep incoming QoS 1 PUBLISH
// packets. paho keeps each one until its PUBACK is written through paho, but Client
// writes PUBACKs itself (Client.ack), so paho would keep them forever. Nothing is lost:
// paho never uses a kept incoming QoS 1 PUBLISH (on reconnection it discards them; the
// broker sends again whatever was not acknowledged).
type store struct {
	*mqtt.MemoryStore
}

func newStore() store { return store{mqtt.NewMemoryStore()} }

// inboundPrefix is the key prefix paho gives incoming packets in its store.
const inboundPrefix = "i."

func (s store) Put(key string, m packets.ControlPacket) {
	if p, ok := m.(*packets.PublishPacket); ok && p.Qos == 1 && strings.HasPrefix(key, inboundPrefix) {
		return
	}
	s.MemoryStore.Put(key, m)
}
