// Command mqttpub publishes a capture (the formats `mqtttocsv replay` reads) to a broker at
// QoS 1, as fast as the broker acknowledges, and waits for every acknowledgement. It is the
// publisher of `make demo`, `make bench` and the end-to-end tests: mosquitto_pub -l is not
// usable for them because it loses QoS 1 messages at the end of its input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
)

func main() {
	broker := flag.String("broker", "tcp://127.0.0.1:1883", "broker URL")
	qos := flag.Int("qos", 1, "QoS of the messages")
	window := flag.Int("window", 256, "messages in flight before waiting for acknowledgements")
	user := flag.String("user", "", "user name")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mqttpub [--broker URL] [--qos N] FILE...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *qos < 0 || *qos > 2 || *window < 1 {
		flag.Usage()
		os.Exit(2)
	}
	n, err := publish(*broker, *user, os.Getenv("MQTT_PASSWORD"), byte(*qos), *window, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqttpub:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mqttpub: published %d messages\n", n)
}

func publish(broker, user, password string, qos byte, window int, files []string) (int, error) {
	opts := mqtt.NewClientOptions().AddBroker(broker).
		SetClientID(fmt.Sprintf("mqttpub-%d", os.Getpid())).
		SetCleanSession(true).SetAutoReconnect(false).
		SetUsername(user).SetPassword(password).
		SetWriteTimeout(30 * time.Second)
	c := mqtt.NewClient(opts)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		return 0, fmt.Errorf("cannot connect to %s: %v", broker, t.Error())
	}
	defer c.Disconnect(1000)

	inflight := make([]mqtt.Token, 0, window)
	wait := func() error {
		for _, t := range inflight {
			if !t.WaitTimeout(60 * time.Second) {
				return errors.New("no acknowledgement within 60 s")
			}
			if err := t.Error(); err != nil {
				return err
			}
		}
		inflight = inflight[:0]
		return nil
	}
	n := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return n, err
		}
		r, err := capture.NewReader(f, 16<<20)
		if err != nil {
			f.Close()
			return n, err
		}
		for {
			topic, payload, err := r.Next()
			if err == io.EOF {
				break
			}
			var le *capture.LineError
			if errors.As(err, &le) {
				continue // not a message: nothing to publish
			}
			if err != nil {
				f.Close()
				return n, err
			}
			// paho keeps the slice until the message is sent: give it its own copy.
			inflight = append(inflight, c.Publish(topic, qos, false, append([]byte(nil), payload...)))
			n++
			if len(inflight) == window {
				if err := wait(); err != nil {
					f.Close()
					return n, err
				}
			}
		}
		f.Close()
	}
	return n, wait()
}
