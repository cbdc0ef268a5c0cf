package mqttclient

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// firstBackoff is the wait after the first failed connection attempt; it
// doubles up to Options.MaxReconnectInterval.
const firstBackoff = time.Second

// quiesce is how long Close lets the last acknowledgements go out.
const quiesce = 250 * time.Millisecond

// closeWait is how long Close waits for a busy handler.
const closeWait = 5 * time.Second

// Handler receives each message's topic and payload. It is called from one
// goroutine, one message at a time, in the order the broker delivered them;
// the message is acknowledged to the broker when the handler returns, so a
// slow handler slows delivery down rather than losing messages. The payload
// belongs to the handler. With QoS 1 a message can come twice (after a
// connection loss before its acknowledgement reached the broker); MQTT
// promises at-least-once, not exactly-once.
type Handler func(topic string, payload []byte)

// Client is a connected subscriber. It reconnects by itself until Close.
type Client struct {
	opts    Options
	log     Logger
	handler Handler
	paho    mqtt.Client

	connects     atomic.Int64 // successful connections so far
	reconnecting atomic.Bool  // between a lost connection and the next one
	firstSub     chan error   // result of the subscription on the first connection
	closeOnce    sync.Once
	closing      atomic.Bool // set by Close: handle no more messages
	handlerMu    sync.Mutex  // held while a message is handled and acknowledged
	recent       recentMessages
	// conn is the connection opened last: the one every message handled comes from,
	// since paho opens a new connection only after the handler has returned for every
	// message of the previous one.
	conn atomic.Pointer[ackConn]
}

// Connect validates o, connects to the broker, subscribes to o.Topics and
// returns a Client that passes every message to h.
//
// The first connection is retried with backoff until ctx is done, so that
// the program may start before its broker (at boot, in compose files); each
// failure is logged. Failures that retrying cannot cure — credentials or
// client id refused, certificate not trusted — end Connect at once with an
// error that says what to fix. Once connected, ctx no longer matters: the
// client reconnects by itself with backoff after any loss, subscribes again
// on every connection, and logs each disconnection with its reason and each
// reconnection. Call Close to stop it.
func Connect(ctx context.Context, o Options, h Handler) (*Client, error) {
	if h == nil {
		return nil, errors.New("mqttclient: nil handler")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Client{opts: o, log: o.Logger, handler: h, firstSub: make(chan error, 1)}
	c.paho = mqtt.NewClient(c.pahoOptions())

	if o.InsecureSkipVerify {
		c.log.Warnf("TLS certificate verification is off (--insecure): the connection to %s is encrypted but the broker is not authenticated", o.Broker)
	}
	c.log.Infof("connecting to %s as client id %q (QoS %d, %s session)", o.Broker, o.ClientID, o.QoS, sessionKind(o.CleanSession))

	if err := c.firstConnect(ctx); err != nil {
		return nil, err
	}

	// Wait for the subscription made by the OnConnect handler, so that a
	// refused topic filter is reported by Connect rather than only logged.
	timer := time.NewTimer(2 * o.ConnectTimeout)
	defer timer.Stop()
	select {
	case err := <-c.firstSub:
		if err != nil {
			c.Close()
			return nil, err
		}
	case <-timer.C:
		// The connection may have dropped meanwhile; the next connection
		// subscribes again, and the outcome is logged.
		c.log.Warnf("no answer to the subscription request from %s within %s; it is retried on reconnection", o.Broker, 2*o.ConnectTimeout)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("stopped while subscribing at %s: %w", o.Broker, ctx.Err())
	}
	return c, nil
}

// pahoOptions translates Options for paho.
func (c *Client) pahoOptions() *mqtt.ClientOptions {
	o := &c.opts
	po := mqtt.NewClientOptions().
		AddBroker(o.Broker).
		SetClientID(o.ClientID).
		SetUsername(o.Username).
		SetPassword(o.Password).
		SetCleanSession(o.CleanSession).
		// Explicit 3.1.1: otherwise paho retries a refused connection as
		// MQTT 3.1, doubling every refusal.
		SetProtocolVersion(4).
		SetOrderMatters(true).
		// onMessage acknowledges each message after handling it.
		SetAutoAckDisabled(true).
		SetKeepAlive(o.KeepAlive).
		SetConnectTimeout(o.ConnectTimeout).
		SetDialer(&net.Dialer{Timeout: o.ConnectTimeout}).
		// Buffered reads and batched acknowledgements (conn.go).
		SetCustomOpenConnectionFn(c.openConnection).
		// onMessage acknowledges QoS 1 messages itself, so paho's store must not keep
		// them until a PUBACK it never sees (store.go).
		SetStore(newStore()).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(o.MaxReconnectInterval).
		// The first connection is retried by firstConnect, which can log
		// each failure and give up on configuration errors.
		SetConnectRetry(false).
		// Messages queued in a persistent session arrive right after the
		// CONNACK, before any Subscribe call could register a route, so
		// every message goes through the default handler.
		SetDefaultPublishHandler(c.onMessage).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(c.onLost).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			c.log.Debugf("reconnecting to %s", o.Broker)
		}).
		SetConnectionNotificationHandler(c.onNotification)
	if o.tlsConfig != nil {
		po.SetTLSConfig(o.tlsConfig.Clone())
	}
	return po
}

// openConnection opens the network connection for paho and remembers it.
func (c *Client) openConnection(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	conn, err := dial(uri, o)
	if err != nil {
		return nil, err
	}
	c.conn.Store(conn)
	return conn, nil
}

// firstConnect tries to connect until it succeeds, ctx is done or the
// failure is permanent.
func (c *Client) firstConnect(ctx context.Context) error {
	o := &c.opts
	wait := min(firstBackoff, o.MaxReconnectInterval)
	for attempt := 1; ; attempt++ {
		tok := c.paho.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			// Let the attempt end (it is bounded by ConnectTimeout) so that
			// no connection is left open behind the caller's back.
			select {
			case <-tok.Done():
			case <-time.After(o.ConnectTimeout + time.Second):
			}
			c.paho.Disconnect(0)
			return fmt.Errorf("gave up connecting to %s: %w", o.Broker, ctx.Err())
		}
		err := tok.Error()
		if err == nil {
			if ct, ok := tok.(*mqtt.ConnectToken); ok && !o.CleanSession {
				if ct.SessionPresent() {
					c.log.Debugf("the broker resumed the session of client id %q", o.ClientID)
				} else {
					c.log.Debugf("the broker had no session for client id %q: a new one starts", o.ClientID)
				}
			}
			return nil
		}
		ce := explainConnectError(o, err)
		if ce.permanent {
			c.log.Errorf("%s", ce.msg)
			return ce
		}
		c.log.Warnf("%s (attempt %d); retrying in %s", ce.msg, attempt, wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up connecting to %s: %w (last error: %s)", o.Broker, ctx.Err(), ce.msg)
		}
		wait = min(2*wait, o.MaxReconnectInterval)
	}
}

// onConnect runs (in its own goroutine) after every successful connection:
// it logs it and subscribes, since a clean session, or a broker that lost
// its state, has no subscriptions.
func (c *Client) onConnect(cl mqtt.Client) {
	o := &c.opts
	n := c.connects.Add(1)
	c.reconnecting.Store(false)
	if n == 1 {
		c.log.Infof("connected to %s", o.Broker)
	} else {
		c.log.Infof("reconnected to %s", o.Broker)
	}

	err := c.subscribe(cl)
	if n == 1 {
		c.firstSub <- err
	}
}

// subscribeAttempts bounds the retries of a subscription answered with
// "packet identifier in use".
const subscribeAttempts = 3

// subscribe subscribes to all topic filters in one request. It returns an
// error only when the broker refused a filter; a lost connection or a
// missing answer is logged, and the next connection subscribes again.
func (c *Client) subscribe(cl mqtt.Client) error {
	o := &c.opts
	filters := make(map[string]byte, len(o.Topics))
	for _, t := range o.Topics {
		filters[t] = o.QoS
	}
	for attempt := 1; ; attempt++ {
		tok := cl.SubscribeMultiple(filters, nil)
		if !tok.WaitTimeout(2 * o.ConnectTimeout) {
			c.log.Warnf("no answer from %s to the subscription request within %s; it is retried on reconnection", o.Broker, 2*o.ConnectTimeout)
			return nil
		}
		if err := tok.Error(); err != nil {
			c.log.Warnf("subscribing at %s failed: %v; it is retried on reconnection", o.Broker, err)
			return nil
		}
		granted := tok.(*mqtt.SubscribeToken).Result()
		if attempt < subscribeAttempts && hasCode(granted, codePacketIDInUse) {
			// mochi-mqtt answers so when the packet id paho chose is that
			// of a message it is resending to this session; paho takes the
			// next id on the next request.
			c.log.Debugf("subscription at %s answered \"packet identifier in use\"; asking again", o.Broker)
			continue
		}
		return c.checkGranted(granted)
	}
}

// codePacketIDInUse is the MQTT 5 reason code 0x91, which some brokers also
// send to MQTT 3.1.1 clients in a SUBACK.
const codePacketIDInUse = 0x91

func hasCode(granted map[string]byte, code byte) bool {
	for _, q := range granted {
		if q == code {
			return true
		}
	}
	return false
}

// checkGranted logs the QoS the broker granted for each filter and returns
// an error naming the filters it refused.
func (c *Client) checkGranted(granted map[string]byte) error {
	o := &c.opts
	var refused []string
	for _, t := range o.Topics {
		q, ok := granted[t]
		switch {
		case !ok:
			refused = append(refused, t)
		case q > 2: // 0x80 in MQTT 3.1.1, a reason code from some brokers
			refused = append(refused, fmt.Sprintf("%s (code 0x%02x)", t, q))
		case q < o.QoS:
			c.log.Warnf("subscribed to %s at QoS %d only (asked for %d): the broker may drop messages during disconnections", t, q, o.QoS)
		default:
			c.log.Infof("subscribed to %s (QoS %d)", t, q)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	sort.Strings(refused)
	err := fmt.Errorf("broker %s refused the subscription to %s (check --topic and the user's access rights on the broker)", o.Broker, strings.Join(refused, ", "))
	c.log.Errorf("%v", err)
	return err
}

// onLost logs a lost connection; paho then reconnects by itself.
func (c *Client) onLost(_ mqtt.Client, err error) {
	c.reconnecting.Store(true)
	c.log.Warnf("disconnected from %s: %s; reconnecting with backoff (at most %s between attempts)", c.opts.Broker, explainLost(err), c.opts.MaxReconnectInterval)
}

// onNotification logs why each reconnection attempt failed. Failures of the
// first connection are logged by firstConnect instead.
func (c *Client) onNotification(_ mqtt.Client, n mqtt.ConnectionNotification) {
	f, ok := n.(mqtt.ConnectionNotificationFailed)
	if !ok || !c.reconnecting.Load() {
		return
	}
	ce := explainConnectError(&c.opts, f.Reason)
	c.log.Warnf("reconnection failed: %s; retrying with backoff", ce.msg)
}

// onMessage hands a message to the handler, then acknowledges it. Acks are
// sent here rather than by paho so that Close can stop between two
// messages: a message is either handled and acknowledged, or neither, and
// then the broker delivers it again in the next session. That avoids
// counting a message twice across a restart.
func (c *Client) onMessage(_ mqtt.Client, m mqtt.Message) {
	c.handlerMu.Lock()
	defer c.handlerMu.Unlock()
	if c.closing.Load() {
		return
	}
	if !c.recent.seen(m) {
		c.deliver(m)
	} else {
		c.log.Debugf("message %d on %s is a redelivery of one already handled: skipped", m.MessageID(), m.Topic())
	}
	c.ack(m)
}

// ack acknowledges m. A QoS 1 message's PUBACK is queued straight on the connection it
// came from (ackConn gathers them while more messages wait), which spares paho's
// acknowledgement path: two goroutine hand-offs and about ten allocations per message.
// QoS 2 goes through paho, whose PUBREC/PUBREL/PUBCOMP flow needs its store; QoS 0 needs
// nothing. Every message is counted as handled, so that the connection knows when none
// waits.
func (c *Client) ack(m mqtt.Message) {
	conn := c.conn.Load()
	if m.Qos() == 2 {
		m.Ack()
	}
	if conn != nil {
		// An error means the connection is gone: so is the broker's need for this
		// acknowledgement (it sends the message again on the next connection), as
		// when paho drops an acknowledgement after a connection loss.
		_ = conn.done(m.Qos() == 1, m.MessageID())
	}
}

// recentMessages remembers the last handled messages, so that a QoS 1 redelivery of one
// already handled is not counted twice. That happens when the connection (or the broker)
// goes down after the handler ran but before the broker got the acknowledgement: the broker
// sends the message again, flagged DUP, under the same packet id. Only DUP messages are
// checked, and only against the same packet id, topic and payload, so two distinct
// messages with equal payloads (the same value twice in a second) are both kept.
type recentMessages struct {
	keys [1024]uint64
	next int
}

func messageKey(m mqtt.Message) uint64 {
	h := fnv.New64a()
	var id [2]byte
	id[0], id[1] = byte(m.MessageID()>>8), byte(m.MessageID())
	h.Write(id[:])
	h.Write([]byte(m.Topic()))
	h.Write([]byte{0})
	h.Write(m.Payload())
	return h.Sum64()
}

// seen records m and reports whether it is a redelivery of a message already recorded.
func (r *recentMessages) seen(m mqtt.Message) bool {
	if m.Qos() == 0 {
		return false
	}
	k := messageKey(m)
	if m.Duplicate() {
		for _, v := range r.keys {
			if v == k {
				return true
			}
		}
	}
	r.keys[r.next] = k
	r.next = (r.next + 1) % len(r.keys)
	return false
}

// deliver calls the handler. A panic in it is logged rather than allowed to
// kill the program: that message is lost (and acknowledged, so that it does
// not come back to crash every restart), the stream goes on.
func (c *Client) deliver(m mqtt.Message) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Errorf("message on %s dropped: handler panicked: %v", m.Topic(), r)
		}
	}()
	c.handler(m.Topic(), m.Payload())
}

// Close stops handing messages to the handler, waits (up to 5 s) for
// the message being handled so that its acknowledgement goes out, and
// disconnects without unsubscribing. With a persistent session the broker
// keeps the subscriptions and queues messages until the next start,
// including any that arrived during Close and were not handled. It is safe
// to call more than once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		idle := make(chan struct{})
		go func() {
			c.handlerMu.Lock()
			c.handlerMu.Unlock() //nolint:staticcheck // waiting for the handler to return
			close(idle)
		}()
		select {
		case <-idle:
		case <-time.After(closeWait):
			c.log.Warnf("the message handler is still busy after %s; disconnecting anyway (that message will be delivered again)", closeWait)
		}
		c.paho.Disconnect(uint(quiesce / time.Millisecond))
		c.log.Infof("disconnected from %s", c.opts.Broker)
	})
}

// Connected reports whether the connection to the broker is up right now.
func (c *Client) Connected() bool {
	return c.paho.IsConnectionOpen()
}

// Broker returns the normalised broker URL, without credentials.
func (c *Client) Broker() string { return c.opts.Broker }

// ClientID returns the client id in use.
func (c *Client) ClientID() string { return c.opts.ClientID }

func sessionKind(clean bool) string {
	if clean {
		return "clean"
	}
	return "persistent"
}
