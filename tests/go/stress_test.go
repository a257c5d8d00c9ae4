package heraldtest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Several publisher connections at once: every message arrives, and
// messages of one publisher arrive in publish order.
func TestConcurrentPublishersOrdering(t *testing.T) {
	s := StartServer(t, "")
	sub := connect(t, s)
	const P, N = 4, 5000
	var mu sync.Mutex
	last := make([]int, P)
	for i := range last {
		last[i] = -1
	}
	var total int64
	var bad []string
	sub.Subscribe("cp.>", func(m *nats.Msg) {
		parts := strings.Split(string(m.Data), ":")
		p, _ := strconv.Atoi(parts[0])
		seq, _ := strconv.Atoi(parts[1])
		mu.Lock()
		if seq != last[p]+1 && len(bad) < 5 {
			bad = append(bad, fmt.Sprintf("publisher %d: %d after %d", p, seq, last[p]))
		}
		last[p] = seq
		mu.Unlock()
		atomic.AddInt64(&total, 1)
	})
	flush(t, sub)
	var wg sync.WaitGroup
	for p := 0; p < P; p++ {
		pc := connect(t, s)
		wg.Add(1)
		go func(p int, pc *nats.Conn) {
			defer wg.Done()
			subj := fmt.Sprintf("cp.%d", p)
			for i := 0; i < N; i++ {
				pc.Publish(subj, []byte(fmt.Sprintf("%d:%d", p, i)))
			}
			pc.Flush()
		}(p, pc)
	}
	wg.Wait()
	waitFor(t, 20*time.Second, "all messages", func() bool { return atomic.LoadInt64(&total) >= P*N })
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("ordering violated: %v", bad)
	}
	if total != P*N {
		t.Fatalf("total %d", total)
	}
}

// Many concurrent requests from several clients to a queue group of responders.
func TestRequestStormQueueResponders(t *testing.T) {
	s := StartServer(t, "")
	var served [3]int64
	for i := 0; i < 3; i++ {
		i := i
		rc := connect(t, s)
		rc.QueueSubscribe("storm.svc", "svc", func(m *nats.Msg) {
			atomic.AddInt64(&served[i], 1)
			m.Respond(append([]byte("r:"), m.Data...))
		})
		flush(t, rc)
	}
	const C, R = 5, 200
	var wg sync.WaitGroup
	errs := make(chan error, C*R)
	for c := 0; c < C; c++ {
		cc := connect(t, s)
		for r := 0; r < R; r++ {
			wg.Add(1)
			go func(c, r int) {
				defer wg.Done()
				want := fmt.Sprintf("%d-%d", c, r)
				m, err := cc.Request("storm.svc", []byte(want), 10*time.Second)
				if err != nil {
					errs <- err
				} else if string(m.Data) != "r:"+want {
					errs <- fmt.Errorf("got %q want r:%s", m.Data, want)
				}
			}(c, r)
		}
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 5 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d requests failed", n, C*R)
	}
	sum := served[0] + served[1] + served[2]
	if sum != C*R {
		t.Fatalf("responders served %d (%v)", sum, served)
	}
}

// Throughput sanity: 100k small messages to two subscribers in bounded time.
func TestThroughputSanity(t *testing.T) {
	s := StartServer(t, "")
	pub := connect(t, s)
	var a, b int64
	s1 := connect(t, s)
	s2 := connect(t, s)
	s1.Subscribe("tp.t", func(*nats.Msg) { atomic.AddInt64(&a, 1) })
	s2.Subscribe("tp.t", func(*nats.Msg) { atomic.AddInt64(&b, 1) })
	flush(t, s1, s2)
	const N = 100000
	msg := make([]byte, 128)
	start := time.Now()
	for i := 0; i < N; i++ {
		if err := pub.Publish("tp.t", msg); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub)
	waitFor(t, 30*time.Second, "100k x2 deliveries", func() bool {
		return atomic.LoadInt64(&a) >= N && atomic.LoadInt64(&b) >= N
	})
	t.Logf("100k msgs to 2 subs in %v", time.Since(start))
	if a != N || b != N {
		t.Fatalf("a=%d b=%d", a, b)
	}
}

// A queue member that leaves: the rest of the group gets everything afterwards.
func TestQueueMemberLeaves(t *testing.T) {
	s := StartServer(t, "")
	pub := connect(t, s)
	var n1, n2 int64
	m1 := connect(t, s)
	m2, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	m1.QueueSubscribe("ql.t", "g", func(*nats.Msg) { atomic.AddInt64(&n1, 1) })
	m2.QueueSubscribe("ql.t", "g", func(*nats.Msg) { atomic.AddInt64(&n2, 1) })
	flush(t, m1, m2)
	for i := 0; i < 100; i++ {
		pub.Publish("ql.t", nil)
	}
	flush(t, pub)
	waitFor(t, 5*time.Second, "first batch", func() bool { return atomic.LoadInt64(&n1)+atomic.LoadInt64(&n2) == 100 })
	m2.Close()
	// bounded wait until the server has dropped m2's interest: 20 messages in a
	// row all reaching m1 (random pick among 2 members would miss with p=2^-20)
	waitFor(t, 5*time.Second, "m2 interest removed", func() bool {
		b := atomic.LoadInt64(&n1)
		for i := 0; i < 20; i++ {
			pub.Publish("ql.t", nil)
		}
		pub.Flush()
		m1.Flush()
		return atomic.LoadInt64(&n1) == b+20
	})
	base := atomic.LoadInt64(&n1)
	for i := 0; i < 200; i++ {
		pub.Publish("ql.t", nil)
	}
	flush(t, pub, m1)
	waitFor(t, 5*time.Second, "all to remaining member", func() bool { return atomic.LoadInt64(&n1) == base+200 })
}
