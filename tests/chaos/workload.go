package main

// Workload: publishers with a unique Nats-Msg-Id per message, retried with
// the same id on error or timeout until acknowledged; a prober the nemesis
// uses to time the publish gap; durable pull consumers with explicit
// AckSync. Every attempt, ack and delivery is recorded.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	streamName = "CHAOS"
	subjPrefix = "chaos."
)

type ackRec struct {
	ID       string
	Seq      uint64
	Attempt0 time.Time // start of the attempt that got the ack
	At       time.Time
	Dup      bool
}

type History struct {
	mu        sync.Mutex
	attempted map[string]bool // every id ever sent (acked or not)
	acked     map[string]ackRec
	acks      []ackRec // in arrival order
	errs      map[string]int
	attempts  int64
	timeouts  int64
	errCount  int64
	wrongAck  []string // ack naming another stream, or seq 0
	log       *os.File
	logMu     sync.Mutex
}

func newHistory(path string) *History {
	f, _ := os.Create(path)
	return &History{attempted: map[string]bool{}, acked: map[string]ackRec{}, errs: map[string]int{}, log: f}
}

func (h *History) logf(format string, a ...interface{}) {
	if h.log != nil {
		h.logMu.Lock()
		defer h.logMu.Unlock()
		fmt.Fprintf(h.log, time.Now().Format("15:04:05.000000")+" "+format+"\n", a...)
	}
}

func (h *History) attempt(id string) {
	h.mu.Lock()
	h.attempted[id] = true
	h.attempts++
	h.mu.Unlock()
}

func (h *History) result(id string, start time.Time, ack *nats.PubAck, err error) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		key := err.Error()
		if errors.Is(err, nats.ErrTimeout) || strings.Contains(key, "timeout") || strings.Contains(key, "deadline") {
			h.timeouts++
			key = "timeout"
		} else {
			h.errCount++
		}
		if len(key) > 80 {
			key = key[:80]
		}
		h.errs[key]++
		h.logf("fail %s %s", id, err)
		return
	}
	if ack.Stream != streamName || ack.Sequence == 0 {
		h.wrongAck = append(h.wrongAck, fmt.Sprintf("%s: %+v", id, *ack))
		return
	}
	r := ackRec{ID: id, Seq: ack.Sequence, Attempt0: start, At: now, Dup: ack.Duplicate}
	if prev, ok := h.acked[id]; ok && prev.Seq != ack.Sequence {
		h.wrongAck = append(h.wrongAck, fmt.Sprintf("%s acked at seq %d and %d", id, prev.Seq, ack.Sequence))
	}
	if _, ok := h.acked[id]; !ok {
		h.acked[id] = r
	}
	h.acks = append(h.acks, r)
	h.logf("ok %s seq=%d dup=%v", id, ack.Sequence, ack.Duplicate)
}

// firstAckAfter: the earliest ack of an attempt started at or after t.
func (h *History) firstAckAfter(t time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var best time.Time
	for i := len(h.acks) - 1; i >= 0; i-- {
		a := h.acks[i]
		if a.At.Before(t) {
			break
		}
		if !a.Attempt0.Before(t) && (best.IsZero() || a.At.Before(best)) {
			best = a.At
		}
	}
	return best, !best.IsZero()
}

// acksStartedIn: acks of attempts started in [from, to) and received before to.
func (h *History) acksStartedIn(from, to time.Time) []ackRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ackRec
	for _, a := range h.acks {
		if !a.Attempt0.Before(from) && a.At.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

func (h *History) ackCount() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.acked) }

func payloadFor(id string) string { return "payload-" + id }

func clientOpts(name string) []nats.Option {
	return []nats.Option{nats.Name(name), nats.Timeout(2 * time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond), nats.ReconnectJitter(0, 0), nats.DontRandomize(),
		nats.PingInterval(2 * time.Second), nats.MaxPingsOutstanding(2), nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(8 << 20)}
}

type Workload struct {
	c        *Cluster
	h        *History
	stop     atomic.Bool // publishers
	wg       sync.WaitGroup
	cstop    atomic.Bool // consumers
	cwg      sync.WaitGroup
	interval time.Duration
	conns    []*nats.Conn
	cons     []*Consumer
	probeN   atomic.Int64
	probeNC  []*nats.Conn // one per node, same order as c.Nodes
	probeJS  []nats.JetStreamContext
}

func (w *Workload) connect(first int, name string) (*nats.Conn, nats.JetStreamContext, error) {
	nc, err := nats.Connect(w.c.URLs(first), clientOpts(name)...)
	if err != nil {
		return nil, nil, err
	}
	w.conns = append(w.conns, nc)
	js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
	return nc, js, err
}

func (w *Workload) StartPublishers(n int) error {
	for p := 0; p < n; p++ {
		_, js, err := w.connect(p, fmt.Sprintf("pub%d", p))
		if err != nil {
			return err
		}
		w.wg.Add(1)
		go w.publisher(p, js)
	}
	// The prober talks to each node on its own connection and, for each
	// probe, picks a node that is running, not paused and connected, so the
	// gap measured is the server's, not a client stuck on a paused node.
	for _, node := range w.c.Nodes {
		nc, err := nats.Connect(node.URL(), append(clientOpts("prober-"+node.Name), pinURL(node.URL()))...)
		if err != nil {
			return err
		}
		w.conns = append(w.conns, nc)
		js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
		if err != nil {
			return err
		}
		w.probeNC, w.probeJS = append(w.probeNC, nc), append(w.probeJS, js)
	}
	return nil
}

func (w *Workload) publisher(p int, js nats.JetStreamContext) {
	defer w.wg.Done()
	subj := fmt.Sprintf("%sp%d", subjPrefix, p)
	for k := 0; !w.stop.Load(); k++ {
		id := fmt.Sprintf("p%d-%07d", p, k)
		for !w.stop.Load() {
			m := nats.NewMsg(subj)
			m.Data = []byte(payloadFor(id))
			m.Header.Set(nats.MsgIdHdr, id)
			w.h.attempt(id)
			start := time.Now()
			ack, err := js.PublishMsg(m, nats.AckWait(2*time.Second))
			w.h.result(id, start, ack, err)
			if err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if w.interval > 0 {
			time.Sleep(w.interval)
		}
	}
}

// Probe publishes a fresh id every 50 ms (each attempt in its own goroutine,
// never blocked by an earlier one) from `since` until one is acknowledged or
// `limit` passes; returns the time from `since` to that first ack.
func (w *Workload) Probe(since time.Time, limit time.Duration) (time.Duration, bool) {
	got := make(chan time.Time, 1)
	deadline := since.Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		k := w.probeN.Add(1)
		id := fmt.Sprintf("probe-%06d", k)
		js := w.probeJS[int(k)%len(w.probeJS)]
		for i := range w.c.Nodes {
			j := (int(k) + i) % len(w.c.Nodes)
			if n := w.c.Nodes[j]; n.Running() && !n.Paused() && w.probeNC[j].IsConnected() {
				js = w.probeJS[j]
				break
			}
		}
		go func(id string, js nats.JetStreamContext) {
			m := nats.NewMsg(subjPrefix + "probe")
			m.Data = []byte(payloadFor(id))
			m.Header.Set(nats.MsgIdHdr, id)
			w.h.attempt(id)
			start := time.Now()
			ack, err := js.PublishMsg(m, nats.AckWait(2*time.Second))
			w.h.result(id, start, ack, err)
			if err == nil {
				select {
				case got <- time.Now():
				default:
				}
			}
		}(id, js)
		select {
		case t := <-got:
			return t.Sub(since), true
		case <-tick.C:
		}
	}
	return 0, false
}

// Consumer: a durable pull consumer with explicit acks.
type Consumer struct {
	Name          string
	mu            sync.Mutex
	seen          map[uint64]string // stream seq -> payload first received
	deliveries    int64
	dups          int64
	afterAck      int64             // delivered again after its AckSync succeeded
	staleAfterAck int64             // an older delivery read after a newer one's AckSync succeeded
	ackedCSeq     map[uint64]uint64 // consumer sequence of the delivery whose AckSync succeeded
	acked         map[uint64]bool
	ackedAt       map[uint64]time.Time
	firstReply    map[uint64]string // the first delivery's ack subject and when it was read
	h             *History
	mismatch      []string // same seq delivered with another payload
	ackErrs       int64
	fetchErrs     int64
	subscribeErrs int64
	lastErr       string
}

func (w *Workload) StartConsumers(n int, admin *Admin) error {
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("C%d", i+1)
		cfg := &nats.ConsumerConfig{Durable: name, AckPolicy: nats.AckExplicitPolicy, AckWait: 10 * time.Second,
			DeliverPolicy: nats.DeliverAllPolicy, MaxAckPending: 20000}
		if err := retry(30*time.Second, func() error {
			_, err := admin.JS().AddConsumer(streamName, cfg, nats.MaxWait(3*time.Second))
			return err
		}); err != nil {
			return fmt.Errorf("add consumer %s: %v", name, err)
		}
		_, js, err := w.connect(i+1, "consumer-"+name)
		if err != nil {
			return err
		}
		c := &Consumer{Name: name, seen: map[uint64]string{}, acked: map[uint64]bool{}, ackedAt: map[uint64]time.Time{}, firstReply: map[uint64]string{}, ackedCSeq: map[uint64]uint64{}, h: w.h}
		w.cons = append(w.cons, c)
		w.cwg.Add(1)
		go w.consume(c, js)
	}
	return nil
}

func (w *Workload) consume(c *Consumer, js nats.JetStreamContext) {
	defer w.cwg.Done()
	go func() { // progress in history.log every 2 s
		for !w.cstop.Load() {
			time.Sleep(2 * time.Second)
			c.mu.Lock()
			w.h.logf("consumer %s progress: %d deliveries, %d distinct, %d duplicates, %d ack errors, %d fetch errors", c.Name, c.deliveries, len(c.seen), c.dups, atomic.LoadInt64(&c.ackErrs), atomic.LoadInt64(&c.fetchErrs))
			c.mu.Unlock()
		}
	}()
	var sub *nats.Subscription
	for !w.cstop.Load() {
		if sub == nil {
			s, err := js.PullSubscribe("", c.Name, nats.Bind(streamName, c.Name))
			if err != nil {
				atomic.AddInt64(&c.subscribeErrs, 1)
				c.mu.Lock()
				c.lastErr = "subscribe: " + err.Error()
				c.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
				continue
			}
			sub = s
		}
		msgs, err := sub.Fetch(100, nats.MaxWait(1*time.Second))
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			atomic.AddInt64(&c.fetchErrs, 1)
			c.mu.Lock()
			c.lastErr = "fetch: " + err.Error()
			c.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
		// AckSync every message of the batch concurrently (each waits for its
		// own confirmation; the server can commit them together), so that the
		// consumers keep up with the publishers.
		var awg sync.WaitGroup
		for _, m := range msgs {
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := md.Sequence.Stream
			c.mu.Lock()
			c.deliveries++
			if prev, ok := c.seen[seq]; ok {
				c.dups++
				if c.acked[seq] {
					// A delivery older than the one whose ack was confirmed (a
					// lower consumer sequence: made before it, e.g. by a leader
					// cut off by a partition, and held up in the network until
					// the partition healed) is read late, not sent after the
					// ack: counted apart.
					what := "delivered again"
					if md.Sequence.Consumer < c.ackedCSeq[seq] {
						c.staleAfterAck++
						what = "an older delivery read"
					} else {
						c.afterAck++
					}
					c.h.logf("consumer %s: seq %d %s (delivery %d, consumer seq %d, pending %d; first read: %s) after the AckSync of consumer seq %d was confirmed at %s",
						c.Name, seq, what, md.NumDelivered, md.Sequence.Consumer, md.NumPending, c.firstReply[seq], c.ackedCSeq[seq], c.ackedAt[seq].Format("15:04:05.000000"))
				}
				if prev != string(m.Data) && len(c.mismatch) < 20 {
					c.mismatch = append(c.mismatch, fmt.Sprintf("seq %d: %q then %q", seq, prev, m.Data))
				}
			} else {
				c.seen[seq] = string(m.Data)
				// The delivery's ack subject (its pending count tells one
				// leader's delivery from another's).
				c.firstReply[seq] = fmt.Sprintf("%s at %s", m.Reply, time.Now().Format("15:04:05.000000"))
			}
			c.mu.Unlock()
			awg.Add(1)
			go func(m *nats.Msg, seq, cseq uint64) {
				defer awg.Done()
				if err := m.AckSync(nats.AckWait(2 * time.Second)); err != nil {
					atomic.AddInt64(&c.ackErrs, 1)
					return
				}
				c.mu.Lock()
				c.acked[seq] = true
				c.ackedAt[seq] = time.Now()
				if cseq > c.ackedCSeq[seq] {
					c.ackedCSeq[seq] = cseq
				}
				c.mu.Unlock()
			}(m, seq, md.Sequence.Consumer)
		}
		awg.Wait()
	}
}

// missing: which of the seqs this consumer has not received.
func (c *Consumer) missing(seqs []uint64) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for _, s := range seqs {
		if _, ok := c.seen[s]; !ok {
			out = append(out, s)
		}
	}
	return out
}

func (w *Workload) StopPublishers() {
	w.stop.Store(true)
}

func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func (w *Workload) Close() {
	for _, nc := range w.conns {
		nc.Close()
	}
}

func retry(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	var err error
	for i := 0; i < 100000; i++ {
		if err = f(); err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func sortedSeqs(m map[uint64]bool) []uint64 {
	var s []uint64
	for k := range m {
		s = append(s, k)
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}
