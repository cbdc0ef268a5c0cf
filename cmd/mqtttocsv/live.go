package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqtttocsv/mqtttocsv/internal/broker"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqttclient"
)

type liveFlags struct {
	coreFlags
	broker         string
	topics         []string
	user           string
	password       string
	passwordFile   string
	clientID       string
	qos            int
	cleanSession   bool
	caFile         string
	certFile       string
	keyFile        string
	insecure       bool
	listen         string
	listenUser     string
	listenPassword string
}

func (f *liveFlags) register(cmd *cobra.Command) {
	f.coreFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.broker, "broker", "tcp://localhost:1883", "broker URL: tcp://, ssl:// (tls://), ws:// or wss://")
	fl.StringArrayVar(&f.topics, "topic", []string{"tele/+/SENSOR"}, "topic filter to subscribe to (repeatable)")
	fl.StringVar(&f.user, "user", "", "broker user name")
	fl.StringVar(&f.password, "password", "", "broker password (better: MQTT_PASSWORD or --password-file)")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the broker password")
	fl.StringVar(&f.clientID, "client-id", "", "MQTT client id; stable by default (mqtttocsv-<host>) so the broker keeps the session")
	fl.IntVar(&f.qos, "qos", 1, "subscription QoS (0, 1 or 2)")
	fl.BoolVar(&f.cleanSession, "clean-session", false, "do not keep a persistent session on the broker")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that signed the broker's certificate")
	fl.StringVar(&f.certFile, "cert-file", "", "PEM client certificate, for brokers that require one")
	fl.StringVar(&f.keyFile, "key-file", "", "PEM key of the client certificate")
	fl.BoolVar(&f.insecure, "insecure-skip-verify", false, "do not verify the broker's certificate (encrypted but not authenticated)")
	fl.StringVar(&f.listen, "listen", "", "also run an MQTT broker on this address (e.g. localhost:1883) and subscribe to it")
	fl.StringVar(&f.listenUser, "listen-user", "", "user name the embedded broker requires")
	fl.StringVar(&f.listenPassword, "listen-password", "", "password the embedded broker requires (or MQTT_LISTEN_PASSWORD)")
}

// tuneRuntime sets the Go runtime for live mode, unless GOGC or GOMAXPROCS in the
// environment say otherwise (measured with bench/):
//
//   - GOGC=50: the live heap is small (the rows of one flush_interval and paho's few hundred
//     bytes of garbage per message), so the heap the collector lets grow at the default
//     GOGC=100 — at least 4 MB — is most of the process's own memory. 50 halves it: about
//     2 MB less resident memory, for three times as many (short) collections, about 3% more
//     CPU.
//   - GOMAXPROCS=1: a message crosses five goroutines inside paho, each doing little, and
//     with more than one P every hand-off may wake another thread (a futex call each way).
//     On one P the hand-offs stay on one thread: about a fifth less CPU per message. One
//     core is far more than a meter needs (it handles a backlog at tens of thousands of
//     messages a second); blocking file writes and fsyncs still release the P to the
//     network side.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// mqttOptions merges the MQTT settings: defaults, file, flags, then the password sources.
func (f *liveFlags) mqttOptions(cmd *cobra.Command, c *fileConfig) error {
	set := cmd.Flags().Changed
	str := func(name string, dst *string, v string) {
		if set(name) {
			*dst = v
		}
	}
	str("broker", &c.Broker, f.broker)
	if set("topic") {
		c.Topics = f.topics
	}
	str("user", &c.User, f.user)
	str("password", &c.Password, f.password)
	str("password-file", &c.PasswordFile, f.passwordFile)
	str("client-id", &c.ClientID, f.clientID)
	if set("qos") {
		c.QoS = f.qos
	}
	if set("clean-session") {
		c.CleanSession = f.cleanSession
	}
	str("ca-file", &c.CAFile, f.caFile)
	str("cert-file", &c.CertFile, f.certFile)
	str("key-file", &c.KeyFile, f.keyFile)
	if set("insecure-skip-verify") {
		c.InsecureSkipVerify = f.insecure
	}
	str("listen", &c.Listen, f.listen)
	str("listen-user", &c.ListenUser, f.listenUser)
	str("listen-password", &c.ListenPassword, f.listenPassword)
	if c.Password == "" {
		if env := os.Getenv("MQTT_PASSWORD"); env != "" {
			c.Password = env
		} else if c.PasswordFile != "" {
			p, err := readPasswordFile(c.PasswordFile)
			if err != nil {
				return usageError{err}
			}
			c.Password = p
		}
	}
	if c.ListenPassword == "" {
		c.ListenPassword = os.Getenv("MQTT_LISTEN_PASSWORD")
	}
	if (c.ListenUser == "") != (c.ListenPassword == "") {
		return usagef("--listen-user and --listen-password go together: set both or neither")
	}
	return nil
}

func runLive(cmd *cobra.Command, f *liveFlags, stderr io.Writer) error {
	c, err := f.load(cmd)
	if err != nil {
		return err
	}
	if err := f.mqttOptions(cmd, &c); err != nil {
		return err
	}
	log := &logger{w: stderr, verbose: c.Verbose}
	tuneRuntime()

	mo := mqttclient.Options{
		Broker: c.Broker, Topics: c.Topics, ClientID: c.ClientID, CleanSession: c.CleanSession,
		Username: c.User, Password: c.Password,
		CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, InsecureSkipVerify: c.InsecureSkipVerify,
		Logger: log,
	}
	if err := mo.SetQoS(c.QoS); err != nil {
		return usageError{err}
	}

	// Signals are caught before anything starts, so that a stop during the first
	// connection still writes and exits cleanly.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	var emb *broker.Broker
	if c.Listen != "" {
		emb, err = broker.Start(broker.Options{Addr: c.Listen, Username: c.ListenUser, Password: c.ListenPassword, Logger: log})
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("cannot start the embedded broker on %s: the port is taken (another MQTT broker runs there? then subscribe to it with --broker tcp://%s instead of --listen): %w", c.Listen, c.Listen, err)
			}
			return fmt.Errorf("cannot start the embedded broker on %s: %w", c.Listen, err)
		}
		defer emb.Close()
		if !cmd.Flags().Changed("broker") {
			mo.Broker = emb.URL()
			if c.ListenUser != "" && mo.Username == "" {
				mo.Username, mo.Password = c.ListenUser, c.ListenPassword
			}
		}
	}
	if err := mo.Validate(); err != nil {
		return usageError{err}
	}

	eng, err := engine.New(c.Options, engine.Params{Log: log, Verbose: c.Verbose})
	if err != nil {
		return err
	}
	log.Infof("writing under %s (flush every %s)", c.OutDir, c.FlushInterval)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		cl  *mqttclient.Client
		err error
	}
	connected := make(chan result, 1)
	go func() {
		cl, err := mqttclient.Connect(ctx, mo, eng.HandleMessage)
		connected <- result{cl, err}
	}()

	flush := time.NewTicker(time.Duration(c.FlushInterval))
	defer flush.Stop()
	status := time.NewTicker(time.Minute)
	defer status.Stop()
	var client *mqttclient.Client
	var fatal error
	last, lastAt := eng.Stats(), time.Now()
	printStatus := func() {
		st := eng.Stats()
		rate := float64(st.Received-last.Received) / time.Since(lastAt).Seconds()
		state := "connecting"
		if client != nil {
			state = "disconnected"
			if client.Connected() {
				state = "connected"
			}
		}
		log.Infof("status: %s, %.1f messages/s, %s, buffered rows %d", state, rate, st.Summary(), st.Buffered)
		last, lastAt = st, time.Now()
	}
loop:
	for {
		select {
		case r := <-connected:
			connected = nil
			if r.err != nil {
				fatal = r.err
				break loop
			}
			client = r.cl
		case <-flush.C:
			eng.Flush(false)
		case <-status.C:
			if c.Verbose {
				printStatus()
			}
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				log.Infof("SIGHUP: reopening the files")
				eng.Reopen()
			case syscall.SIGUSR1:
				printStatus()
			default:
				log.Infof("%s: writing everything and stopping", s)
				break loop
			}
		}
	}
	cancel()
	if connected != nil {
		// Stopped while still connecting: wait for Connect to give up.
		if r := <-connected; r.cl != nil {
			client = r.cl
		}
	}
	if client != nil {
		client.Close()
	}
	cerr := eng.Close()
	log.Infof("stopped: %s", eng.Stats().Summary())
	if fatal != nil {
		return fatal
	}
	return cerr
}
