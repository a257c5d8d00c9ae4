package clustertest

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func connectTo(t *testing.T, n *Node, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL(), append([]nats.Option{nats.Timeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", n.Name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func flush(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func TestMeshFormsFromOneSeed(t *testing.T) {
	nodes := StartCluster(t, 3)
	for _, n := range nodes {
		var v struct {
			Routes  int `json:"routes"`
			Cluster struct {
				Name string `json:"name"`
			} `json:"cluster"`
			ConnectURLs []string `json:"connect_urls"`
		}
		if err := n.Mon("varz", &v); err != nil {
			t.Fatal(err)
		}
		if v.Routes != 2 || v.Cluster.Name != "C1" {
			t.Fatalf("%s varz routes=%d cluster=%q", n.Name, v.Routes, v.Cluster.Name)
		}
	}
}

func TestHeadersAcrossNodes(t *testing.T) {
	nodes := StartCluster(t, 3)
	pub := connectTo(t, nodes[0])
	sub := connectTo(t, nodes[2])
	ch := make(chan *nats.Msg, 10)
	WithInterest(t, nodes[2], nodes[:2], 1, func() {
		if _, err := sub.ChanSubscribe("hdr.go", ch); err != nil {
			t.Fatal(err)
		}
		flush(t, sub)
	})
	m := nats.NewMsg("hdr.go")
	m.Header.Add("X-Multi", "a")
	m.Header.Add("X-Multi", "b")
	m.Header.Set("X-Single", "with spaces and : colon")
	m.Reply = "my.reply"
	m.Data = []byte("payload")
	if err := pub.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	ho := nats.NewMsg("hdr.go")
	ho.Header.Set("Only", "hdr")
	if err := pub.PublishMsg(ho); err != nil {
		t.Fatal(err)
	}
	flush(t, pub)
	select {
	case got := <-ch:
		if string(got.Data) != "payload" || got.Reply != "my.reply" {
			t.Fatalf("data=%q reply=%q", got.Data, got.Reply)
		}
		if v := got.Header.Values("X-Multi"); len(v) != 2 || v[0] != "a" || v[1] != "b" {
			t.Fatalf("X-Multi = %v", v)
		}
		if v := got.Header.Get("X-Single"); v != "with spaces and : colon" {
			t.Fatalf("X-Single = %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message across the route")
	}
	select {
	case got := <-ch:
		if len(got.Data) != 0 || got.Header.Get("Only") != "hdr" {
			t.Fatalf("header-only: data=%q hdr=%v", got.Data, got.Header)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no header-only message")
	}
}

func TestRequestReplyAcrossNodes(t *testing.T) {
	nodes := StartCluster(t, 3)
	resp := connectTo(t, nodes[1])
	WithInterest(t, nodes[1], []*Node{nodes[0], nodes[2]}, 1, func() {
		if _, err := resp.Subscribe("go.svc", func(m *nats.Msg) {
			r := nats.NewMsg(m.Reply)
			r.Data = append([]byte("re:"), m.Data...)
			r.Header.Set("X-From", "n2")
			r.Header.Set("X-Req", m.Header.Get("X-Req"))
			m.RespondMsg(r)
		}); err != nil {
			t.Fatal(err)
		}
		flush(t, resp)
	})
	for _, n := range []*Node{nodes[0], nodes[2]} {
		req := connectTo(t, n)
		r, err := req.Request("go.svc", []byte("hi"), 5*time.Second)
		if err != nil || string(r.Data) != "re:hi" || r.Header.Get("X-From") != "n2" {
			t.Fatalf("request from %s: %v %v", n.Name, err, r)
		}
		// with request headers
		rm := nats.NewMsg("go.svc")
		rm.Header.Set("X-Req", "42")
		r, err = req.RequestMsg(rm, 5*time.Second)
		if err != nil || r.Header.Get("X-Req") != "42" {
			t.Fatalf("RequestMsg from %s: %v %v", n.Name, err, r)
		}
		// 50 concurrent
		var wg sync.WaitGroup
		var bad int32
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, err := req.Request("go.svc", []byte(strconv.Itoa(i)), 5*time.Second)
				if err != nil || string(r.Data) != "re:"+strconv.Itoa(i) {
					atomic.AddInt32(&bad, 1)
				}
			}(i)
		}
		wg.Wait()
		if bad != 0 {
			t.Fatalf("%d of 50 concurrent requests from %s failed", bad, n.Name)
		}
	}
	// old-style request (unique inbox subscription per request)
	old := connectTo(t, nodes[0], nats.UseOldRequestStyle())
	if r, err := old.Request("go.svc", []byte("old"), 5*time.Second); err != nil || string(r.Data) != "re:old" {
		t.Fatalf("old-style request: %v %v", err, r)
	}
}

func TestNoRespondersAcrossCluster(t *testing.T) {
	nodes := StartCluster(t, 3)
	req := connectTo(t, nodes[0])
	start := time.Now()
	_, err := req.Request("nobody.home", []byte("x"), 5*time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("want ErrNoResponders, got %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("no-responders took %v", el)
	}
	// the only responder is two gossip hops away in the seed chain (n3): must succeed
	resp := connectTo(t, nodes[2])
	var sub *nats.Subscription
	WithInterest(t, nodes[2], nodes[:1], 1, func() {
		sub, err = resp.Subscribe("somebody.home", func(m *nats.Msg) { m.Respond([]byte("yes")) })
		if err != nil {
			t.Fatal(err)
		}
		flush(t, resp)
	})
	for i := 0; i < 5; i++ {
		r, err := req.Request("somebody.home", nil, 5*time.Second)
		if err != nil || string(r.Data) != "yes" {
			t.Fatalf("request to remote-only responder: %v", err)
		}
	}
	before := nodes[0].RouteSubs(nodes[2])
	sub.Unsubscribe()
	flush(t, resp)
	waitFor(t, 10*time.Second, "RS- on n1", func() bool { return nodes[0].RouteSubs(nodes[2]) <= before-1 })
	if _, err := req.Request("somebody.home", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("after the responder left: want ErrNoResponders, got %v", err)
	}
}

func TestQueueGroupAcrossNodesExactlyOnce(t *testing.T) {
	nodes := StartCluster(t, 3)
	const N = 500
	var mu sync.Mutex
	seen := map[string]int{}
	perNode := map[string]int{}
	total := int32(0)
	sentinels := int32(0)
	var members []*nats.Subscription
	for _, n := range nodes[1:] {
		n := n
		WithInterest(t, n, nodes[:1], 2, func() {
			for k := 0; k < 2; k++ {
				c := connectTo(t, n)
				if _, err := c.Subscribe("goq.sentinel", func(*nats.Msg) { atomic.AddInt32(&sentinels, 1) }); err != nil {
					t.Fatal(err)
				}
				sub, err := c.QueueSubscribe("goq.work", "g", func(m *nats.Msg) {
					mu.Lock()
					seen[string(m.Data)]++
					perNode[n.Name]++
					mu.Unlock()
					atomic.AddInt32(&total, 1)
				})
				if err != nil {
					t.Fatal(err)
				}
				members = append(members, sub)
				flush(t, c)
			}
		})
	}
	pub := connectTo(t, nodes[0])
	for i := 0; i < N; i++ {
		pub.Publish("goq.work", []byte(strconv.Itoa(i)))
	}
	pub.Publish("goq.sentinel", nil) // per-route order: arrives after every earlier message
	flush(t, pub)
	waitFor(t, 10*time.Second, "sentinel on all 4 member connections", func() bool { return atomic.LoadInt32(&sentinels) >= 4 })
	// Each subscription has its own callback goroutine in nats.go, so the
	// sentinel's callback can run before the work messages that arrived
	// ahead of it on the same connection: drain those before counting.
	drained := func() bool {
		for _, sub := range members {
			if n, _, err := sub.Pending(); err != nil || n > 0 {
				return false
			}
		}
		return atomic.LoadInt32(&total) >= N
	}
	for deadline := time.Now().Add(10 * time.Second); !drained() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if int(atomic.LoadInt32(&total)) != N || len(seen) != N {
		t.Fatalf("total=%d distinct=%d want %d (per node %v)", total, len(seen), N, perNode)
	}
	if perNode["n2"] == 0 || perNode["n3"] == 0 {
		t.Fatalf("members on both nodes should get messages: %v", perNode)
	}
}

func TestFailoverViaDiscoveredServers(t *testing.T) {
	nodes := StartCluster(t, 3)
	A, B, C := nodes[0], nodes[1], nodes[2]
	reconnected := make(chan string, 4)
	nc := connectTo(t, A, nats.ReconnectWait(200*time.Millisecond), nats.MaxReconnects(-1),
		nats.ReconnectJitter(0, 0), nats.ReconnectHandler(func(c *nats.Conn) { reconnected <- c.ConnectedUrl() }))
	want := []string{B.URL(), C.URL()}
	waitFor(t, 5*time.Second, "DiscoveredServers = B and C", func() bool {
		d := append([]string(nil), nc.DiscoveredServers()...)
		sort.Strings(d)
		w := append([]string(nil), want...)
		sort.Strings(w)
		return fmt.Sprint(d) == fmt.Sprint(w)
	})
	if len(nc.Servers()) != 3 {
		t.Fatalf("server pool %v", nc.Servers())
	}
	ch := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe("fo.go", ch); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	pub := connectTo(t, C)
	publishUntil(t, pub, "fo.go", ch)

	A.Kill()
	select {
	case u := <-reconnected:
		if u != B.URL() && u != C.URL() {
			t.Fatalf("reconnected to %s", u)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no reconnect within 15s (status %v)", nc.Status())
	}
	publishUntil(t, pub, "fo.go", ch)
	WaitMesh(t, []*Node{B, C}, 10*time.Second)
	// A is gone: servers advertise only B and C now; the client's own pool still works
	if !nc.IsConnected() {
		t.Fatal("not connected")
	}
}

// publishUntil publishes every 100 ms until ch gets a message (bounded), then drains ch.
func publishUntil(t *testing.T, pub *nats.Conn, subject string, ch chan *nats.Msg) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		pub.Publish(subject, []byte("probe"))
		pub.Flush()
		select {
		case <-ch:
			for len(ch) > 0 {
				<-ch
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("no message on %s within 10s", subject)
}

func TestKillRestartHeals(t *testing.T) {
	nodes := StartCluster(t, 3)
	sub := connectTo(t, nodes[0], nats.MaxReconnects(-1))
	ch := make(chan *nats.Msg, 64)
	sub.ChanSubscribe("heal.go", ch)
	flush(t, sub)
	nodes[1].Kill()
	WaitMesh(t, []*Node{nodes[0], nodes[2]}, 15*time.Second)
	publishUntil(t, connectTo(t, nodes[2]), "heal.go", ch)
	nodes[1].Start()
	WaitMesh(t, nodes, 20*time.Second)
	waitFor(t, 10*time.Second, "restarted n2 learned n1's interest", func() bool { return nodes[1].RouteSubs(nodes[0]) >= 1 })
	// Core delivery is at most once while routes change: right after the
	// restart n1 may also solicit a route to n2 (learned by gossip) and one
	// of the two duplicates is closed, with whatever was in flight on it (as
	// in nats-server). So publish until one arrives, as publishUntil does.
	p := connectTo(t, nodes[1])
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.Publish("heal.go", []byte("from-restarted"))
		flush(t, p)
		wait := time.After(200 * time.Millisecond)
	read:
		for {
			select {
			case m := <-ch:
				switch string(m.Data) {
				case "from-restarted":
					return
				case "probe": // a late one from publishUntil above
				default:
					t.Fatalf("got %q", m.Data)
				}
			case <-wait:
				break read
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no message from the restarted node within 10s")
		}
	}
}

// 100k messages from n1 to n3 (a gossip-learned route), in order, none lost.
func TestThroughputAcrossRouteInOrder(t *testing.T) {
	nodes := StartCluster(t, 3)
	N := 100000
	if v, err := strconv.Atoi(os.Getenv("CLUSTER_TP_N")); err == nil && v > 0 {
		N = v // manual stress runs
	}
	sub := connectTo(t, nodes[2])
	var got int64
	var bad int64
	next := 0
	done := make(chan struct{})
	WithInterest(t, nodes[2], nodes[:1], 1, func() {
		s, err := sub.Subscribe("tp.data", func(m *nats.Msg) {
			if string(m.Data) != strconv.Itoa(next) {
				atomic.AddInt64(&bad, 1)
			}
			next++
			if atomic.AddInt64(&got, 1) == int64(N) {
				close(done)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		s.SetPendingLimits(-1, -1)
		flush(t, sub)
	})
	pub := connectTo(t, nodes[0])
	start := time.Now()
	for i := 0; i < N; i++ {
		if err := pub.Publish("tp.data", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("got %d of %d", atomic.LoadInt64(&got), N)
	}
	if bad != 0 {
		t.Fatalf("%d messages out of order", bad)
	}
	t.Logf("%d messages across a route in %v", N, time.Since(start))
}

// A client of n1 adds n3 when it joins the cluster and drops it (an implicit
// server) when n3 shuts down: async INFO connect_urls in both directions.
func TestDiscoveredServersFollowMembership(t *testing.T) {
	nodes := StartCluster(t, 3)
	nc := connectTo(t, nodes[0])
	has := func(u string) bool {
		for _, s := range nc.Servers() {
			if s == u {
				return true
			}
		}
		return false
	}
	waitFor(t, 5*time.Second, "n3 in the server pool", func() bool { return has(nodes[2].URL()) })
	nodes[2].Stop()
	WaitMesh(t, nodes[:2], 10*time.Second)
	waitFor(t, 5*time.Second, fmt.Sprintf("n3 dropped from the server pool %v", nc.Servers()), func() bool { return !has(nodes[2].URL()) })
	if !has(nodes[1].URL()) {
		t.Fatalf("n2 missing from the pool: %v", nc.Servers())
	}
	nodes[2].Start()
	WaitMesh(t, nodes, 20*time.Second)
	waitFor(t, 5*time.Second, "n3 back in the server pool", func() bool { return has(nodes[2].URL()) })
}
