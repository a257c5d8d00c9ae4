package main

// KV workload (issue 12): compare-and-set by revision on an R3 KV bucket.
//
// At start the bucket CHAOSKV (R3, file storage) is created through nats.go's
// KV API (js.CreateKeyValue, History 64), then, unless --kv-history N is
// given, its stream KV_CHAOSKV gets max_msgs_per_subject raised so that no
// revision ages out during a run and the checker sees every key's whole
// chain (checker_kv.go). Each key gets an initial value (Update with
// revision 0, i.e. Create). --kv-clients clients, each on its own connection
// preferring a different node and reconnecting for ever, loop: Get a random
// key (revision r, value v), then kv.Update(key, new, r). Every value is
// unique and names its attempt, the revision it was based on and the attempt
// id of the value read there:
//
//	c<client>-<n> key=<key> prev=<r> of=<id of v>
//
// Outcomes: ok (acknowledged, with the new revision), conflict (the server
// answered "wrong last sequence", 10071: definitely not stored), unknown
// (timeout, connection error, any other error: may or may not be stored).
// Every attempt goes to kv.log in the run dir.

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	kvBucket     = "CHAOSKV"
	kvStream     = "KV_" + kvBucket
	kvSubjPrefix = "$KV." + kvBucket + "."
	// max_msgs_per_subject set on KV_CHAOSKV by default: more revisions per
	// key than any run makes, so nothing ages out.
	kvUnlimitedHistory = 1 << 24
)

var (
	kvClientsFlag  = flag.Int("kv-clients", 3, "KV compare-and-set clients on bucket "+kvBucket+" (0: no KV workload)")
	kvKeysFlag     = flag.Int("kv-keys", 4, "keys in the KV bucket")
	kvHistoryFlag  = flag.Int("kv-history", 0, "KV bucket history 1..64 (revisions kept per key; older ones age out and are checked only as far as kept); 0: created with 64, then max_msgs_per_subject raised so that nothing ages out")
	kvIntervalFlag = flag.Duration("kv-interval", 5*time.Millisecond, "pause between a KV client's attempts")
	kvCreateFlag   = flag.String("kv-create", "", "with --kv-history 0: kv = js.CreateKeyValue, then STREAM.UPDATE raises max_msgs_per_subject; stream = STREAM.CREATE of the bucket's stream (the config CreateKeyValue makes) with the raised limit from the start (nats-server 2.9.10 re-applies the old limit for a moment when a node restarts and trims the stream); default: kv for herald, stream for nats-server")
	kvFollowFlag   = flag.Bool("kv-follow-leader", true, "while every node is up, step the bucket's leader down until it is on the CHAOS stream's leader (the nemesis's target)")
)

const (
	kvOK       = "ok"
	kvConflict = "conflict"
	kvUnknown  = "unknown"
)

type kvAttempt struct {
	ID      string
	Client  int // -1: the harness's initial value
	Key     string
	Prev    uint64 // the revision read (0: create)
	PrevID  string // the attempt id of the value read at Prev ("-": none)
	Val     string
	Outcome string // "" while in flight
	Rev     uint64 // new revision, when ok
	Err     string
	Start   time.Time
	End     time.Time
}

func kvValue(a *kvAttempt) string {
	return fmt.Sprintf("%s key=%s prev=%d of=%s", a.ID, a.Key, a.Prev, a.PrevID)
}

// kvIDOf: the attempt id a stored value names (its first field).
func kvIDOf(v string) string {
	if i := strings.IndexByte(v, ' '); i >= 0 {
		return v[:i]
	}
	return v
}

type KVLoad struct {
	c        *Cluster
	keys     []string
	clients  int
	limit    int64 // max_msgs_per_subject requested for the bucket
	interval time.Duration
	stop     atomic.Bool
	wg       sync.WaitGroup
	conns    []*nats.Conn
	mu       sync.Mutex
	atts     []*kvAttempt
	getErrs  int64
	errKinds map[string]int
	log      *os.File
	logMu    sync.Mutex
	leaders  []string // KV_CHAOSKV's leader each time it changed (polled)
	stepdown int      // stepdowns sent to move it onto the CHAOS leader
}

func (w *KVLoad) logf(format string, a ...interface{}) {
	if w.log == nil {
		return
	}
	w.logMu.Lock()
	defer w.logMu.Unlock()
	fmt.Fprintf(w.log, time.Now().Format("15:04:05.000000")+" "+format+"\n", a...)
}

func (w *KVLoad) add(a *kvAttempt) {
	w.mu.Lock()
	w.atts = append(w.atts, a)
	w.mu.Unlock()
}

func kvIsWrongLastSeq(err error) bool {
	var ae *nats.APIError
	if errors.As(err, &ae) && ae.ErrorCode == nats.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return strings.Contains(err.Error(), "wrong last sequence")
}

func (w *KVLoad) finish(a *kvAttempt, rev uint64, err error) {
	w.mu.Lock()
	a.End = time.Now()
	switch {
	case err == nil:
		a.Outcome, a.Rev = kvOK, rev
	case kvIsWrongLastSeq(err):
		a.Outcome, a.Err = kvConflict, err.Error()
	default:
		a.Outcome, a.Err = kvUnknown, err.Error()
		key := err.Error()
		if errors.Is(err, nats.ErrTimeout) || strings.Contains(key, "timeout") || strings.Contains(key, "deadline") {
			key = "timeout"
		}
		if len(key) > 80 {
			key = key[:80]
		}
		w.errKinds[key]++
	}
	w.mu.Unlock()
	if err == nil {
		w.logf("ok %s key=%s prev=%d rev=%d", a.ID, a.Key, a.Prev, rev)
	} else {
		w.logf("%s %s key=%s prev=%d: %v", a.Outcome, a.ID, a.Key, a.Prev, err)
	}
}

// snapshot: copies of every attempt (in-flight ones count as unknown).
func (w *KVLoad) snapshot() []*kvAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*kvAttempt, 0, len(w.atts))
	for _, a := range w.atts {
		c := *a
		if c.Outcome == "" {
			c.Outcome = kvUnknown
		}
		out = append(out, &c)
	}
	return out
}

// startKV creates the bucket, its initial values and starts the clients.
func (r *Run) startKV(clients int) error {
	if clients <= 0 {
		return nil
	}
	w := &KVLoad{c: r.c, clients: clients, interval: *kvIntervalFlag, errKinds: map[string]int{}}
	for i := 0; i < *kvKeysFlag; i++ {
		w.keys = append(w.keys, fmt.Sprintf("k%d", i))
	}
	w.log, _ = os.Create(filepath.Join(r.runDir, "kv.log"))
	r.kv = w
	hist := *kvHistoryFlag
	if hist < 0 || hist > nats.KeyValueMaxHistory {
		return fmt.Errorf("--kv-history: 0..%d, not %d", nats.KeyValueMaxHistory, hist)
	}
	w.limit = int64(hist)
	create := hist
	if hist == 0 {
		create, w.limit = nats.KeyValueMaxHistory, kvUnlimitedHistory
	}
	how := *kvCreateFlag
	if how == "" {
		how = "kv"
		if r.kind == "nats-server" {
			how = "stream"
		}
	}
	if how != "kv" && how != "stream" {
		return fmt.Errorf("--kv-create: kv or stream, not %q", how)
	}
	if hist != 0 {
		how = "kv"
	}
	if how == "stream" {
		// what nats.go's CreateKeyValue asks for, with the raised limit
		cfg := &nats.StreamConfig{Name: kvStream, Subjects: []string{kvSubjPrefix + ">"}, MaxMsgsPerSubject: kvUnlimitedHistory,
			MaxBytes: -1, MaxMsgSize: -1, Storage: nats.FileStorage, Replicas: 3, AllowRollup: true, DenyDelete: true,
			Duplicates: 2 * time.Minute, MaxMsgs: -1, MaxConsumers: -1, AllowDirect: true, Discard: nats.DiscardNew}
		if err := retry(60*time.Second, func() error {
			_, err := r.a.JS().AddStream(cfg, nats.MaxWait(5*time.Second))
			if err != nil {
				if _, ierr := r.a.JS().StreamInfo(kvStream, nats.MaxWait(2*time.Second)); ierr == nil {
					return nil
				}
			}
			return err
		}); err != nil {
			return fmt.Errorf("create stream %s: %v", kvStream, err)
		}
	}
	var kv nats.KeyValue
	if err := retry(60*time.Second, func() error {
		var err error
		if how == "stream" {
			kv, err = r.a.JS().KeyValue(kvBucket)
			return err
		}
		kv, err = r.a.JS().CreateKeyValue(&nats.KeyValueConfig{Bucket: kvBucket, Replicas: 3,
			History: uint8(create), Storage: nats.FileStorage})
		if err != nil {
			if k, err2 := r.a.JS().KeyValue(kvBucket); err2 == nil {
				kv = k
				return nil
			}
		}
		return err
	}); err != nil {
		return fmt.Errorf("create KV bucket %s: %v", kvBucket, err)
	}
	if how == "kv" && hist == 0 {
		if err := retry(30*time.Second, func() error {
			si, err := r.a.JS().StreamInfo(kvStream, nats.MaxWait(2*time.Second))
			if err != nil {
				return err
			}
			if si.Config.MaxMsgsPerSubject == kvUnlimitedHistory {
				return nil
			}
			cfg := si.Config
			cfg.MaxMsgsPerSubject = kvUnlimitedHistory
			_, err = r.a.JS().UpdateStream(&cfg, nats.MaxWait(5*time.Second))
			return err
		}); err != nil {
			return fmt.Errorf("raise max_msgs_per_subject of %s: %v", kvStream, err)
		}
	}
	if _, err := r.kvWaitHealthy(60*time.Second, 0); err != nil {
		return fmt.Errorf("%s not healthy after create: %v", kvStream, err)
	}
	// initial values: Update(key, v, 0), retried until a Get shows the key
	for _, key := range w.keys {
		a := &kvAttempt{ID: "init-" + key, Client: -1, Key: key, PrevID: "-", Start: time.Now()}
		a.Val = kvValue(a)
		w.add(a)
		if err := retry(30*time.Second, func() error {
			rev, err := kv.Update(key, []byte(a.Val), 0)
			if err == nil {
				w.finish(a, rev, nil)
				return nil
			}
			if e, gerr := kv.Get(key); gerr == nil && string(e.Value()) == a.Val {
				w.logf("init %s: stored at rev %d by an earlier try (%v)", key, e.Revision(), err)
				return nil // stays unknown: an earlier try stored it, unacknowledged
			}
			return err
		}); err != nil {
			return fmt.Errorf("initial value of %s: %v", key, err)
		}
	}
	for ci := 0; ci < clients; ci++ {
		nc, err := nats.Connect(r.c.URLs(ci), clientOpts(fmt.Sprintf("kv%d", ci))...)
		if err != nil {
			return err
		}
		w.conns = append(w.conns, nc)
		js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
		if err != nil {
			return err
		}
		var ckv nats.KeyValue
		if err := retry(30*time.Second, func() error {
			var err error
			ckv, err = js.KeyValue(kvBucket)
			return err
		}); err != nil {
			return fmt.Errorf("kv client %d: bind %s: %v", ci, kvBucket, err)
		}
		w.wg.Add(1)
		go w.client(ci, ckv, rand.New(rand.NewSource(r.seed*31+int64(ci))))
	}
	w.wg.Add(1)
	go r.kvWatchLeader()
	r.logf("KV bucket %s R3 (created by %s, max_msgs_per_subject %d), keys %v, %d CAS clients", kvBucket, how, w.limit, w.keys, clients)
	return nil
}

// kvWatchLeader: the bucket's leader every 500 ms (shows whether the faults
// hit it). The nemesis aims at the CHAOS stream's leader, so with
// --kv-follow-leader, while every node is running and not paused, the
// bucket's leader is stepped down (at most every 2 s) until it is on the same
// node: the next leader fault then hits both.
func (r *Run) kvWatchLeader() {
	w := r.kv
	defer w.wg.Done()
	last := ""
	var lastStepdown time.Time
	for !w.stop.Load() {
		for _, n := range r.a.live() {
			si, err := r.a.jss[n.Name].StreamInfo(kvStream, nats.MaxWait(time.Second))
			if err != nil || si.Cluster == nil || si.Cluster.Leader == "" {
				continue
			}
			l := si.Cluster.Leader
			if l != last {
				last = l
				w.mu.Lock()
				w.leaders = append(w.leaders, l)
				w.mu.Unlock()
				w.logf("leader of %s: %s", kvStream, l)
			}
			if !*kvFollowFlag || time.Since(lastStepdown) < 2*time.Second {
				break
			}
			allUp := true
			for _, m := range r.c.Nodes {
				allUp = allUp && m.Running() && !m.Paused()
			}
			if !allUp {
				break
			}
			if ci, err := r.a.jss[n.Name].StreamInfo(streamName, nats.MaxWait(time.Second)); err == nil && ci.Cluster != nil &&
				ci.Cluster.Leader != "" && ci.Cluster.Leader != l {
				lastStepdown = time.Now()
				_, err := r.a.conns[n.Name].Request("$JS.API.STREAM.LEADER.STEPDOWN."+kvStream, nil, 2*time.Second)
				w.mu.Lock()
				w.stepdown++
				w.mu.Unlock()
				w.logf("stepdown of %s (leader %s, CHAOS leader %s): %v", kvStream, l, ci.Cluster.Leader, err)
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (w *KVLoad) client(ci int, kv nats.KeyValue, rng *rand.Rand) {
	defer w.wg.Done()
	for n := 0; !w.stop.Load(); n++ {
		key := w.keys[rng.Intn(len(w.keys))]
		e, err := kv.Get(key)
		if err != nil {
			atomic.AddInt64(&w.getErrs, 1)
			w.logf("get c%d %s: %v", ci, key, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a := &kvAttempt{ID: fmt.Sprintf("c%d-%06d", ci, n), Client: ci, Key: key, Prev: e.Revision(),
			PrevID: kvIDOf(string(e.Value())), Start: time.Now()}
		a.Val = kvValue(a)
		w.add(a)
		rev, err := kv.Update(key, []byte(a.Val), a.Prev)
		w.finish(a, rev, err)
		if err != nil && !kvIsWrongLastSeq(err) {
			time.Sleep(50 * time.Millisecond)
		} else if w.interval > 0 {
			time.Sleep(w.interval)
		}
	}
}

// stopKV stops the clients (each attempt is bounded by the 2 s request
// timeouts, so this is quick).
func (r *Run) stopKV() {
	if r.kv == nil {
		return
	}
	r.kv.stop.Store(true)
	if !waitGroup(&r.kv.wg, 30*time.Second) {
		r.logf("note: KV clients did not stop within 30s")
	}
	for _, nc := range r.kv.conns {
		nc.Close()
	}
}

// kvWaitHealthy: KV_CHAOSKV has a leader and 2 current followers, and its
// last sequence is at least minLast; waits up to d.
func (r *Run) kvWaitHealthy(d time.Duration, minLast uint64) (*nats.StreamInfo, error) {
	var si *nats.StreamInfo
	err := retry(d, func() error {
		var last error = fmt.Errorf("no live node")
		for _, n := range r.a.live() {
			s, err := r.a.jss[n.Name].StreamInfo(kvStream, nats.MaxWait(2*time.Second))
			if err != nil {
				last = fmt.Errorf("via %s: %v", n.Name, err)
				continue
			}
			si = s
			if s.Cluster == nil || s.Cluster.Leader == "" {
				return fmt.Errorf("no leader")
			}
			if len(s.Cluster.Replicas) != 2 {
				return fmt.Errorf("%d replicas listed", len(s.Cluster.Replicas))
			}
			for _, p := range s.Cluster.Replicas {
				if !p.Current || p.Offline {
					return fmt.Errorf("replica %s current=%v offline=%v lag=%d", p.Name, p.Current, p.Offline, p.Lag)
				}
			}
			if s.State.LastSeq < minLast {
				return fmt.Errorf("last seq %d < acknowledged revision %d", s.State.LastSeq, minLast)
			}
			return nil
		}
		return last
	})
	return si, err
}
