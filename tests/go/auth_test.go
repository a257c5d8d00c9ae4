package heraldtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func expectAuthErr(t *testing.T, s *Server, opts ...nats.Option) {
	t.Helper()
	opts = append(opts, nats.NoReconnect(), nats.Timeout(5*time.Second))
	nc, err := nats.Connect(s.URL(), opts...)
	if err == nil {
		nc.Close()
		t.Fatal("connect succeeded with bad credentials")
	}
	if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("expected authorization violation, got %v", err)
	}
}

func TestAuthToken(t *testing.T) {
	s := StartServer(t, "", "--auth", "s3cr3t")
	nc := connect(t, s, nats.Token("s3cr3t"))
	if !nc.AuthRequired() {
		t.Fatal("auth_required not advertised")
	}
	sub, _ := nc.SubscribeSync("auth.t")
	flush(t, nc)
	nc.Publish("auth.t", []byte("ok"))
	if _, err := sub.NextMsg(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	expectAuthErr(t, s, nats.Token("wrong"))
	expectAuthErr(t, s)
}

func TestAuthUserPass(t *testing.T) {
	s := StartServer(t, "", "--user", "alice", "--pass", "pw1")
	nc := connect(t, s, nats.UserInfo("alice", "pw1"))
	sub, _ := nc.SubscribeSync("up.t")
	flush(t, nc)
	nc.Publish("up.t", nil)
	if _, err := sub.NextMsg(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	// credentials in the URL
	nc2, err := nats.Connect("nats://alice:pw1@127.0.0.1:" + strconv.Itoa(s.Port))
	if err != nil {
		t.Fatalf("url credentials: %v", err)
	}
	nc2.Close()
	expectAuthErr(t, s, nats.UserInfo("alice", "bad"))
	expectAuthErr(t, s, nats.UserInfo("bob", "pw1"))
	expectAuthErr(t, s)
}

func TestAuthConfigUsers(t *testing.T) {
	s := StartServer(t, "authorization {\n  users = [\n    {user: \"u1\", password: \"p1\"}\n    {user: \"u2\", password: \"p2\"}\n  ]\n}\n")
	a := connect(t, s, nats.UserInfo("u1", "p1"))
	b := connect(t, s, nats.UserInfo("u2", "p2"))
	sub, _ := b.SubscribeSync("cfg.auth")
	flush(t, b)
	a.Publish("cfg.auth", []byte("x"))
	if _, err := sub.NextMsg(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	expectAuthErr(t, s, nats.UserInfo("u1", "p2"))
}

func TestMaxPayloadClient(t *testing.T) {
	s := StartServer(t, "max_payload: 1024\n")
	nc := connect(t, s)
	if nc.MaxPayload() != 1024 {
		t.Fatalf("max_payload %d", nc.MaxPayload())
	}
	sub, _ := nc.SubscribeSync("mp.t")
	flush(t, nc)
	if err := nc.Publish("mp.t", make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(3 * time.Second)
	if err != nil || len(m.Data) != 1024 {
		t.Fatalf("%v %v", m, err)
	}
	if err := nc.Publish("mp.t", make([]byte, 1025)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("expected ErrMaxPayload, got %v", err)
	}
	if !nc.IsConnected() {
		t.Fatal("client-side rejection must not disconnect")
	}
}

func TestMaxPayloadRawSocket(t *testing.T) {
	s := StartServer(t, "max_payload: 1024\n")
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO {") {
		t.Fatalf("INFO: %q %v", line, err)
	}
	var info map[string]interface{}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line[5:])), &info); err != nil {
		t.Fatal(err)
	}
	if info["max_payload"].(float64) != 1024 {
		t.Fatalf("info max_payload %v", info["max_payload"])
	}
	c.Write([]byte("CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n"))
	if l, _ := r.ReadString('\n'); l != "PONG\r\n" {
		t.Fatalf("expected PONG, got %q", l)
	}
	c.Write([]byte("PUB foo 2000\r\n"))
	l, _ := r.ReadString('\n')
	if l != "-ERR 'Maximum Payload Violation'\r\n" {
		t.Fatalf("got %q", l)
	}
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection not closed after max payload violation")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection not closed (read timed out)")
	}
}

func TestReconnect(t *testing.T) {
	s := StartServer(t, "")
	var disconnects, reconnects int64
	nc := connect(t, s,
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.ReconnectJitter(0, 0),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { atomic.AddInt64(&disconnects, 1) }),
		nats.ReconnectHandler(func(*nats.Conn) { atomic.AddInt64(&reconnects, 1) }),
	)
	ch := make(chan *nats.Msg, 16)
	qch := make(chan *nats.Msg, 16)
	lch := make(chan *nats.Msg, 16)
	nc.ChanSubscribe("rc.t", ch)
	nc.ChanQueueSubscribe("rc.q", "g", qch)
	// callback subscription: nats.go tracks deliveries and re-sends UNSUB with the remaining max
	lsub, _ := nc.Subscribe("rc.max", func(m *nats.Msg) { lch <- m })
	lsub.AutoUnsubscribe(3)
	flush(t, nc)
	p1 := connect(t, s)
	p1.Publish("rc.t", []byte("before"))
	p1.Publish("rc.max", []byte("1"))
	flush(t, p1)
	recv(t, ch, 1, 3*time.Second)
	recv(t, lch, 1, 3*time.Second)
	p1.Close()

	s.Stop()
	waitFor(t, 5*time.Second, "disconnect handler", func() bool { return atomic.LoadInt64(&disconnects) > 0 })
	s.Start()
	waitFor(t, 10*time.Second, "reconnect handler", func() bool { return atomic.LoadInt64(&reconnects) > 0 })
	flush(t, nc)

	p2 := connect(t, s)
	p2.Publish("rc.t", []byte("after"))
	p2.Publish("rc.q", []byte("q-after"))
	for i := 2; i <= 5; i++ {
		p2.Publish("rc.max", []byte(strconv.Itoa(i)))
	}
	flush(t, p2)
	if m := recv(t, ch, 1, 5*time.Second); string(m[0].Data) != "after" {
		t.Fatalf("got %q", m[0].Data)
	}
	if m := recv(t, qch, 1, 5*time.Second); string(m[0].Data) != "q-after" {
		t.Fatalf("got %q", m[0].Data)
	}
	lm := recv(t, lch, 2, 5*time.Second)
	if string(lm[0].Data) != "2" || string(lm[1].Data) != "3" {
		t.Fatalf("auto-unsub after reconnect: %q %q", lm[0].Data, lm[1].Data)
	}
	flush(t, p2, nc)
	expectNone(t, lch, 100*time.Millisecond)
	nc.Subscribe("rc.svc", func(m *nats.Msg) { m.Respond([]byte("pong")) })
	flush(t, nc)
	r, err := p2.Request("rc.svc", []byte("ping"), 3*time.Second)
	if err != nil || string(r.Data) != "pong" {
		t.Fatalf("request after reconnect: %v %v", r, err)
	}
}

// nats.go with verbose and pedantic CONNECT options still works end to end.
func TestVerbosePedanticClient(t *testing.T) {
	s := StartServer(t, "")
	opts := nats.GetDefaultOptions()
	opts.Url = s.URL()
	opts.Verbose = true
	opts.Pedantic = true
	opts.Timeout = 5 * time.Second
	nc, err := opts.Connect()
	if err != nil {
		t.Fatalf("verbose connect: %v", err)
	}
	defer nc.Close()
	sub, _ := nc.SubscribeSync("vp.t")
	flush(t, nc)
	for i := 0; i < 100; i++ {
		nc.Publish("vp.t", []byte(strconv.Itoa(i)))
	}
	flush(t, nc)
	for i := 0; i < 100; i++ {
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil || string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("msg %d: %v %v", i, m, err)
		}
	}
	nc.Subscribe("vp.svc", func(m *nats.Msg) { m.Respond([]byte("ok")) })
	if r, err := nc.Request("vp.svc", nil, 3*time.Second); err != nil || string(r.Data) != "ok" {
		t.Fatalf("request: %v %v", r, err)
	}
	if nc.LastError() != nil {
		t.Fatalf("last error: %v", nc.LastError())
	}
}

func TestMaxConnectionsClient(t *testing.T) {
	s := StartServer(t, "max_connections: 1\n")
	var nc *nats.Conn
	// the readiness probe may hold the slot for a moment: bounded retry
	waitFor(t, 5*time.Second, "first connection admitted", func() bool {
		c, err := nats.Connect(s.URL(), nats.NoReconnect())
		if err != nil {
			return false
		}
		nc = c
		return true
	})
	defer nc.Close()
	// The server writes INFO + -ERR 'maximum connections exceeded' and closes;
	// depending on timing nats.go reports that text or the broken connection
	// (the exact -ERR is checked in protocol_test.py).
	for i := 0; i < 3; i++ {
		c, err := nats.Connect(s.URL(), nats.NoReconnect(), nats.Timeout(5*time.Second))
		if err == nil {
			c.Close()
			t.Fatal("second connection admitted with max_connections: 1")
		}
		e := strings.ToLower(err.Error())
		if !strings.Contains(e, "maximum connections exceeded") && !strings.Contains(e, "broken pipe") &&
			!strings.Contains(e, "connection reset") && !strings.Contains(e, "eof") {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	flush(t, nc)
}
