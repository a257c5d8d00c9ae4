package heraldtest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func connect(t *testing.T, s *Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(s.URL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func flush(t *testing.T, ncs ...*nats.Conn) {
	t.Helper()
	for _, nc := range ncs {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
}

// recv reads exactly n messages from ch within d.
func recv(t *testing.T, ch <-chan *nats.Msg, n int, d time.Duration) []*nats.Msg {
	t.Helper()
	out := make([]*nats.Msg, 0, n)
	timeout := time.After(d)
	for len(out) < n {
		select {
		case m := <-ch:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("timed out: got %d of %d messages", len(out), n)
		}
	}
	return out
}

// expectNone asserts nothing more arrives on ch (after the caller flushed).
func expectNone(t *testing.T, ch <-chan *nats.Msg, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message on %s: %q", m.Subject, m.Data)
	case <-time.After(d):
	}
}

func TestConnectInfo(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(nc.ConnectedServerVersion()) {
		t.Fatalf("version not semver: %q", nc.ConnectedServerVersion())
	}
	if nc.MaxPayload() != 1048576 {
		t.Fatalf("max_payload=%d", nc.MaxPayload())
	}
	if !nc.HeadersSupported() {
		t.Fatal("headers not supported")
	}
	if nc.ConnectedServerId() == "" {
		t.Fatal("empty server_id")
	}
	if _, err := nc.GetClientID(); err != nil {
		t.Fatalf("client id: %v", err)
	}
	if nc.ConnectedUrl() != s.URL() {
		t.Fatalf("url %s", nc.ConnectedUrl())
	}
	if nc.AuthRequired() {
		t.Fatal("auth_required set without auth")
	}
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
	rtt, err := nc.RTT()
	if err != nil || rtt <= 0 {
		t.Fatalf("rtt %v %v", rtt, err)
	}
	t.Logf("server version %s", nc.ConnectedServerVersion())
}

func TestPubSub(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	pub := connect(t, s)
	ch := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("ps.basic", ch)
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	for i := 0; i < 5; i++ {
		pub.Publish("ps.basic", []byte(fmt.Sprintf("m%d", i)))
	}
	pub.Publish("ps.other", []byte("nope"))
	pub.Publish("ps.basic", nil)
	flush(t, pub)
	msgs := recv(t, ch, 6, 5*time.Second)
	for i := 0; i < 5; i++ {
		if string(msgs[i].Data) != fmt.Sprintf("m%d", i) || msgs[i].Subject != "ps.basic" || msgs[i].Reply != "" {
			t.Fatalf("msg %d: %+v", i, msgs[i])
		}
	}
	if len(msgs[5].Data) != 0 {
		t.Fatalf("empty payload expected, got %q", msgs[5].Data)
	}
	flush(t, pub, nc)
	expectNone(t, ch, 50*time.Millisecond)
	// Synchronous subscription API
	ss, _ := nc.SubscribeSync("ps.sync")
	flush(t, nc)
	pub.Publish("ps.sync", []byte("s"))
	m, err := ss.NextMsg(3 * time.Second)
	if err != nil || string(m.Data) != "s" {
		t.Fatalf("sync: %v %v", m, err)
	}
	_ = sub
}

func TestWildcards(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	star, gt, mid := make(chan *nats.Msg, 64), make(chan *nats.Msg, 64), make(chan *nats.Msg, 64)
	nc.ChanSubscribe("wc.*.c", star)
	nc.ChanSubscribe("wc.>", gt)
	nc.ChanSubscribe("wc.a.>", mid)
	flush(t, nc)
	for _, subj := range []string{"wc.a.c", "wc.b.c", "wc.a.b.c", "wc.a", "wc", "wc.a.d", "wcx.a.c"} {
		nc.Publish(subj, []byte(subj))
	}
	flush(t, nc)
	check := func(ch chan *nats.Msg, want ...string) {
		t.Helper()
		got := recv(t, ch, len(want), 3*time.Second)
		for i, m := range got {
			if m.Subject != want[i] {
				t.Fatalf("got %s want %s (all want %v)", m.Subject, want[i], want)
			}
		}
		flush(t, nc)
		expectNone(t, ch, 20*time.Millisecond)
	}
	check(star, "wc.a.c", "wc.b.c")
	check(gt, "wc.a.c", "wc.b.c", "wc.a.b.c", "wc.a", "wc.a.d")
	check(mid, "wc.a.c", "wc.a.b.c", "wc.a.d")
}

func TestQueueGroups(t *testing.T) {
	const N = 300
	s := StartServer(t, "")
	pub := connect(t, s)
	var mu sync.Mutex
	seen := map[string]int{}
	per := make([]int, 3)
	var conns []*nats.Conn
	for i := 0; i < 3; i++ {
		i := i
		nc := connect(t, s)
		conns = append(conns, nc)
		if _, err := nc.QueueSubscribe("qg.work", "workers", func(m *nats.Msg) {
			mu.Lock()
			seen[string(m.Data)]++
			per[i]++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	plainNc := connect(t, s)
	var plain, second int64
	plainNc.Subscribe("qg.work", func(m *nats.Msg) { atomic.AddInt64(&plain, 1) })
	for i := 0; i < 2; i++ {
		plainNc.QueueSubscribe("qg.*", "auditors", func(m *nats.Msg) { atomic.AddInt64(&second, 1) })
	}
	flush(t, append(conns, plainNc)...)
	for i := 0; i < N; i++ {
		pub.Publish("qg.work", []byte(strconv.Itoa(i)))
	}
	flush(t, pub)
	waitFor(t, 5*time.Second, "all deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == N && atomic.LoadInt64(&plain) == N && atomic.LoadInt64(&second) == N
	})
	flush(t, append(conns, plainNc)...)
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("message %s delivered %d times within the group", k, v)
		}
	}
	for i, c := range per {
		if c == 0 {
			t.Fatalf("member %d got nothing (%v)", i, per)
		}
	}
	if plain != N || second != N {
		t.Fatalf("plain=%d second group=%d", plain, second)
	}
}

func TestRequestReply(t *testing.T) {
	s := StartServer(t, "")
	svc := connect(t, s)
	svc.Subscribe("rr.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) })
	flush(t, svc)
	cli := connect(t, s)
	r, err := cli.Request("rr.echo", []byte("hi"), 3*time.Second)
	if err != nil || string(r.Data) != "echo:hi" {
		t.Fatalf("request: %v %v", r, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			want := fmt.Sprintf("echo:q%d", i)
			r, err := cli.Request("rr.echo", []byte(fmt.Sprintf("q%d", i)), 5*time.Second)
			if err != nil {
				errs <- err
			} else if string(r.Data) != want {
				errs <- fmt.Errorf("got %q want %q", r.Data, want)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// old style request: dedicated inbox with AutoUnsubscribe(1)
	oc := connect(t, s, nats.UseOldRequestStyle())
	r, err = oc.Request("rr.echo", []byte("old"), 3*time.Second)
	if err != nil || string(r.Data) != "echo:old" {
		t.Fatalf("old request: %v %v", r, err)
	}
	// responder sees a reply subject
	ins, _ := svc.SubscribeSync("rr.inspect")
	flush(t, svc)
	done := make(chan error, 1)
	go func() { _, err := cli.Request("rr.inspect", []byte("x"), 3*time.Second); done <- err }()
	m, err := ins.NextMsg(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^_INBOX\.`).MatchString(m.Reply) {
		t.Fatalf("reply subject %q", m.Reply)
	}
	m.Respond([]byte("ok"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// PublishRequest with an explicit inbox
	inbox := nats.NewInbox()
	ch := make(chan *nats.Msg, 1)
	cli.ChanSubscribe(inbox, ch)
	flush(t, cli)
	cli.PublishRequest("rr.echo", inbox, []byte("manual"))
	if got := recv(t, ch, 1, 3*time.Second); string(got[0].Data) != "echo:manual" {
		t.Fatalf("manual: %q", got[0].Data)
	}
}

func TestHeaders(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	ch := make(chan *nats.Msg, 8)
	nc.ChanSubscribe("hdr.rt", ch)
	flush(t, nc)
	m := nats.NewMsg("hdr.rt")
	m.Header.Add("X-Multi", "one")
	m.Header.Add("X-Multi", "two")
	m.Header.Set("MixedCase-Key", "Value With Spaces")
	m.Header.Set("lower-key", "v")
	m.Data = []byte("body")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	ho := nats.NewMsg("hdr.rt")
	ho.Header.Set("Only", "hdr")
	nc.PublishMsg(ho)
	got := recv(t, ch, 2, 3*time.Second)
	h := got[0].Header
	if v := h.Values("X-Multi"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Fatalf("X-Multi: %v (header %v)", v, h)
	}
	if _, ok := h["MixedCase-Key"]; !ok || h.Get("MixedCase-Key") != "Value With Spaces" {
		t.Fatalf("case not preserved: %v", h)
	}
	if _, ok := h["Mixedcase-Key"]; ok {
		t.Fatalf("canonicalised key present: %v", h)
	}
	if h.Get("lower-key") != "v" || string(got[0].Data) != "body" {
		t.Fatalf("header %v data %q", h, got[0].Data)
	}
	if got[1].Header.Get("Only") != "hdr" || len(got[1].Data) != 0 {
		t.Fatalf("header-only msg: %v %q", got[1].Header, got[1].Data)
	}
	// request/response with headers both ways
	nc.Subscribe("hdr.svc", func(req *nats.Msg) {
		resp := nats.NewMsg(req.Reply)
		resp.Header.Set("Echo-Req", req.Header.Get("Req-Id"))
		resp.Data = req.Data
		req.RespondMsg(resp)
	})
	flush(t, nc)
	q := nats.NewMsg("hdr.svc")
	q.Header.Set("Req-Id", "abc-123")
	q.Data = []byte("p")
	r, err := nc.RequestMsg(q, 3*time.Second)
	if err != nil || r.Header.Get("Echo-Req") != "abc-123" || string(r.Data) != "p" {
		t.Fatalf("header request: %v %v", r, err)
	}
}

func TestNoResponders(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	start := time.Now()
	_, err := nc.Request("nobody.home", []byte("x"), 5*time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("expected ErrNoResponders, got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("no responders took %v", el)
	}
	oc := connect(t, s, nats.UseOldRequestStyle())
	if _, err := oc.Request("nobody.home", []byte("x"), 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("old style: expected ErrNoResponders, got %v", err)
	}
	// raw inbox subscription sees the 503 status message
	inbox := nats.NewInbox()
	sub, _ := nc.SubscribeSync(inbox)
	flush(t, nc)
	nc.PublishRequest("nobody.home", inbox, []byte("x"))
	// nats.go's NextMsg reports the 503 status message as ErrNoResponders
	if m, err := sub.NextMsg(3 * time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("inbox NextMsg: expected ErrNoResponders, got %v (msg %v)", err, m)
	}
	// and a channel subscription sees the raw status message
	ch := make(chan *nats.Msg, 1)
	inbox2 := nats.NewInbox()
	nc.ChanSubscribe(inbox2, ch)
	flush(t, nc)
	nc.PublishRequest("nobody.home", inbox2, []byte("x"))
	m := recv(t, ch, 1, 3*time.Second)[0]
	if m.Header.Get("Status") != "503" || len(m.Data) != 0 {
		t.Fatalf("status msg: header %v data %q", m.Header, m.Data)
	}
}

func TestRequestTimeout(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	sub, _ := nc.SubscribeSync("rr.silent")
	flush(t, nc)
	start := time.Now()
	_, err := nc.Request("rr.silent", []byte("x"), 300*time.Millisecond)
	if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("expected timeout, got %v", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("returned too early")
	}
	if n, _, _ := sub.Pending(); n != 1 {
		t.Fatalf("responder pending %d", n)
	}
}

func TestAutoUnsubscribe(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	pub := connect(t, s)
	ch := make(chan *nats.Msg, 64)
	sub, _ := nc.ChanSubscribe("unsub.max", ch)
	if err := sub.AutoUnsubscribe(3); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	for i := 0; i < 10; i++ {
		pub.Publish("unsub.max", []byte(strconv.Itoa(i)))
	}
	flush(t, pub, nc)
	got := recv(t, ch, 3, 3*time.Second)
	for i, m := range got {
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("msg %d = %q", i, m.Data)
		}
	}
	flush(t, pub, nc)
	expectNone(t, ch, 100*time.Millisecond)
	// (channel subscriptions are not limited client-side: this checks the server)
	// a callback subscription with AutoUnsubscribe is removed by the client
	var cbN int64
	cb, _ := nc.Subscribe("unsub.cb", func(*nats.Msg) { atomic.AddInt64(&cbN, 1) })
	cb.AutoUnsubscribe(2)
	flush(t, nc)
	for i := 0; i < 5; i++ {
		pub.Publish("unsub.cb", nil)
	}
	flush(t, pub, nc)
	waitFor(t, 2*time.Second, "callback sub invalid", func() bool { return !cb.IsValid() })
	if n := atomic.LoadInt64(&cbN); n != 2 {
		t.Fatalf("callback sub got %d", n)
	}
	// max counts total deliveries including those before UNSUB
	ch2 := make(chan *nats.Msg, 64)
	sub2, _ := nc.ChanSubscribe("unsub.max2", ch2)
	flush(t, nc)
	pub.Publish("unsub.max2", []byte("0"))
	pub.Publish("unsub.max2", []byte("1"))
	flush(t, pub)
	recv(t, ch2, 2, 3*time.Second)
	sub2.AutoUnsubscribe(4)
	flush(t, nc)
	for i := 2; i < 10; i++ {
		pub.Publish("unsub.max2", []byte(strconv.Itoa(i)))
	}
	flush(t, pub, nc)
	recv(t, ch2, 2, 3*time.Second)
	flush(t, pub, nc)
	expectNone(t, ch2, 100*time.Millisecond)
	// plain Unsubscribe
	ch3 := make(chan *nats.Msg, 8)
	sub3, _ := nc.ChanSubscribe("unsub.plain", ch3)
	flush(t, nc)
	pub.Publish("unsub.plain", nil)
	flush(t, pub)
	recv(t, ch3, 1, 3*time.Second)
	sub3.Unsubscribe()
	flush(t, nc)
	pub.Publish("unsub.plain", nil)
	flush(t, pub, nc)
	expectNone(t, ch3, 100*time.Millisecond)
}

func TestDrainSubscription(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	pub := connect(t, s)
	const N = 200
	var got int64
	release := make(chan struct{})
	sub, _ := nc.Subscribe("drain.sub", func(m *nats.Msg) {
		<-release // hold the first message so the rest queue up in the client
		atomic.AddInt64(&got, 1)
	})
	flush(t, nc)
	for i := 0; i < N; i++ {
		pub.Publish("drain.sub", []byte(strconv.Itoa(i)))
	}
	flush(t, pub, nc)
	if err := sub.Drain(); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitFor(t, 5*time.Second, "drained sub closed", func() bool { return !sub.IsValid() })
	if n := atomic.LoadInt64(&got); n != N {
		t.Fatalf("drain delivered %d of %d", n, N)
	}
	pub.Publish("drain.sub", []byte("late"))
	flush(t, pub, nc)
	time.Sleep(50 * time.Millisecond)
	if n := atomic.LoadInt64(&got); n != N {
		t.Fatalf("delivery after drain: %d", n)
	}
}

func TestDrainConnection(t *testing.T) {
	s := StartServer(t, "")
	closed := make(chan struct{})
	nc := connect(t, s, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	pub := connect(t, s)
	var got int64
	nc.Subscribe("drain.conn", func(m *nats.Msg) { time.Sleep(time.Millisecond); atomic.AddInt64(&got, 1) })
	flush(t, nc)
	for i := 0; i < 100; i++ {
		pub.Publish("drain.conn", nil)
	}
	flush(t, pub, nc)
	if err := nc.Drain(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed after drain")
	}
	if got != 100 || !nc.IsClosed() {
		t.Fatalf("got %d closed=%v", got, nc.IsClosed())
	}
}

func TestFlush(t *testing.T) {
	s := StartServer(t, "")
	pub := connect(t, s)
	sub := connect(t, s)
	var n int64
	sub.Subscribe("flush.t", func(*nats.Msg) { atomic.AddInt64(&n, 1) })
	flush(t, sub)
	for i := 0; i < 1000; i++ {
		pub.Publish("flush.t", []byte("x"))
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	flush(t, sub)
	waitFor(t, 2*time.Second, "callbacks", func() bool { return atomic.LoadInt64(&n) == 1000 })
	// per-subscription pending view after flush with a sync subscription
	ss, _ := sub.SubscribeSync("flush.sync")
	flush(t, sub)
	for i := 0; i < 100; i++ {
		pub.Publish("flush.sync", nil)
	}
	flush(t, pub, sub)
	if p, _, _ := ss.Pending(); p != 100 {
		t.Fatalf("pending after flush = %d", p)
	}
}

func TestNoEcho(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s, nats.NoEcho())
	other := connect(t, s)
	ch := make(chan *nats.Msg, 8)
	och := make(chan *nats.Msg, 8)
	nc.ChanSubscribe("echo.t", ch)
	other.ChanSubscribe("echo.t", och)
	flush(t, nc, other)
	nc.Publish("echo.t", []byte("self"))
	other.Publish("echo.t", []byte("other"))
	flush(t, nc, other)
	if m := recv(t, ch, 1, 3*time.Second); string(m[0].Data) != "other" {
		t.Fatalf("noecho got %q", m[0].Data)
	}
	flush(t, nc, other, nc)
	expectNone(t, ch, 50*time.Millisecond)
	om := recv(t, och, 2, 3*time.Second)
	got := []string{string(om[0].Data), string(om[1].Data)}
	sort.Strings(got)
	if got[0] != "other" || got[1] != "self" {
		t.Fatalf("echo conn got %v", got)
	}
}

func TestLargeMessage(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	ch := make(chan *nats.Msg, 4)
	nc.ChanSubscribe("big.msg", ch)
	flush(t, nc)
	sizes := []int{512 * 1024, 1048576 - 1, 1048576}
	var bodies [][]byte
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + (i>>8)*7)
		}
		bodies = append(bodies, b)
		if err := nc.Publish("big.msg", b); err != nil {
			t.Fatal(err)
		}
	}
	got := recv(t, ch, 3, 10*time.Second)
	for i := range got {
		if !bytes.Equal(got[i].Data, bodies[i]) {
			t.Fatalf("body %d corrupted (len %d want %d)", i, len(got[i].Data), sizes[i])
		}
	}
	if err := nc.Publish("big.msg", make([]byte, 1048577)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("expected ErrMaxPayload, got %v", err)
	}
}

func TestOrdering(t *testing.T) {
	s := StartServer(t, "")
	pub := connect(t, s)
	sub := connect(t, s)
	const N = 10000
	var mu sync.Mutex
	var got []int
	sub.Subscribe("order.t", func(m *nats.Msg) {
		v, _ := strconv.Atoi(string(m.Data))
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	})
	flush(t, sub)
	for i := 0; i < N; i++ {
		pub.Publish("order.t", []byte(strconv.Itoa(i)))
	}
	flush(t, pub)
	waitFor(t, 15*time.Second, "10k messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= N })
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < N; i++ {
		if got[i] != i {
			t.Fatalf("out of order at %d: %d", i, got[i])
		}
	}
}

func TestManySubscriptions(t *testing.T) {
	s := StartServer(t, "")
	nc := connect(t, s)
	pub := connect(t, s)
	const N = 2000
	counts := make([]int64, N)
	var wrong, all int64
	for i := 0; i < N; i++ {
		i := i
		subj := fmt.Sprintf("many.%d.x", i)
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			atomic.AddInt64(&counts[i], 1)
			if m.Subject != subj {
				atomic.AddInt64(&wrong, 1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	nc.Subscribe("many.*.x", func(*nats.Msg) { atomic.AddInt64(&all, 1) })
	flush(t, nc)
	if nc.NumSubscriptions() != N+1 {
		t.Fatalf("NumSubscriptions=%d", nc.NumSubscriptions())
	}
	for i := 0; i < N; i++ {
		pub.Publish(fmt.Sprintf("many.%d.x", i), nil)
	}
	flush(t, pub)
	waitFor(t, 10*time.Second, "all delivered", func() bool { return atomic.LoadInt64(&all) >= N })
	flush(t, pub, nc)
	time.Sleep(20 * time.Millisecond)
	for i := range counts {
		if c := atomic.LoadInt64(&counts[i]); c != 1 {
			t.Fatalf("subject %d got %d", i, c)
		}
	}
	if all != N || wrong != 0 {
		t.Fatalf("all=%d wrong=%d", all, wrong)
	}
}
