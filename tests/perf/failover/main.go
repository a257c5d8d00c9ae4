// Command failover measures JetStream failover on a 3-node cluster of herald
// or nats-server: how long an R3 file stream acknowledges no publish after
// its leader is SIGKILLed, and after all three nodes are SIGKILLed and
// restarted at once; then it checks that every acknowledged message is in
// the stream exactly once and that every replica holds the same message at
// every sequence. Run by tests/perf/failover-js.sh (see there for the
// environment); built offline in GOPATH mode against Debian's nats.go.
//
// Workload: PUBLISHERS (4) goroutines, each with its own connection knowing
// all three servers' URLs (reconnect forever, 100 ms apart), publish with
// nats.go's synchronous JetStream publish, a unique Nats-Msg-Id per message,
// a PUB_TIMEOUT (500 ms) bound per attempt, nats.go's own no-responders retry
// off, and retry with the same id RETRY_PAUSE (20 ms) after any error or
// timeout; PUB_PAUSE (10 ms) between acknowledged messages.
//
// A window is measured from just before the SIGKILL (leader kill) or from the
// moment the three processes have been started again (all-node restart) to
// the first PubAck, over all publishers, of a publish attempt sent after the
// killed processes had exited (so the dying leader cannot answer it).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

var (
	kind           = flag.String("kind", "herald", "herald or nats-server (labels only)")
	bin            = flag.String("bin", "", "server binary")
	label          = flag.String("label", "", "server label for the output")
	dir            = flag.String("dir", "", "work directory (stores, configs, logs)")
	kills          = flag.Int("kills", 20, "leader SIGKILLs")
	repeatAll      = flag.Int("repeat-all", 3, "all-node SIGKILL+restarts")
	publishers     = flag.Int("publishers", 4, "concurrent publishers")
	pubTimeout     = flag.Duration("pub-timeout", 500*time.Millisecond, "bound per publish attempt")
	pubPause       = flag.Duration("pub-pause", 10*time.Millisecond, "pause after each acknowledged publish")
	retryPause     = flag.Duration("retry-pause", 20*time.Millisecond, "pause before retrying a failed attempt")
	size           = flag.Int("size", 128, "payload bytes")
	ackTimeout     = flag.Duration("ack-timeout", 60*time.Second, "bound on a leader-kill window")
	allAckTimeout  = flag.Duration("all-ack-timeout", 180*time.Second, "bound on an all-restart window")
	healthyTimeout = flag.Duration("healthy-timeout", 60*time.Second, "bound on waiting for all replicas current")
	readWorkers    = flag.Int("read-workers", 16, "concurrent STREAM.MSG.GET in the replica check")
	jsExtra        = flag.String("js-extra", "", "extra settings inside jetstream {}")
	budget         = flag.Duration("budget", 60*time.Minute, "after this, no further kills are started (the check still runs)")
)

const stream = "FAILOVER"

func die(format string, args ...interface{}) {
	fmt.Printf("FATAL: "+format+"\n", args...)
	if theCluster != nil {
		for _, n := range theCluster.Nodes {
			fmt.Println(n.LogTail(4000))
		}
		theCluster.StopAll()
	}
	os.Exit(1)
}

// payload is the deterministic body of the message with this id.
func payload(id string, n int) string {
	s := "payload-" + id + "-"
	for len(s) < n {
		s += "x"
	}
	return s
}

type ack struct {
	id        string
	seq       uint64
	pub       int
	start, at time.Time
	dup       bool
}

// recorder keeps every acknowledgement and the current window: attempts
// started after markAt count for firstAt / perPubFirst.
type recorder struct {
	mu          sync.Mutex
	acks        []ack
	markAt      time.Time
	firstAt     time.Time
	firstPub    int
	perPubFirst []time.Time
	perPubAcks  []int
	winErrs     map[string]int
	winFails    int
	winLost     int // attempts sent after the mark that got no answer at all (timeout)
	killAt      time.Time
	winDying    int      // attempts sent between killAt and the mark (process dying) that timed out
	winSamples  []string // the first few failed attempts sent after the mark
	totalErrs   map[string]int
	totalFails  int
	attempts    int64
	dups        int
	gaveUp      []string
}

func newRecorder(n int) *recorder {
	r := &recorder{perPubFirst: make([]time.Time, n), perPubAcks: make([]int, n), winErrs: map[string]int{}, totalErrs: map[string]int{}}
	return r
}

func (r *recorder) mark(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.markAt = t
	r.firstAt = time.Time{}
	for i := range r.perPubFirst {
		r.perPubFirst[i] = time.Time{}
		r.perPubAcks[i] = 0
	}
	r.winErrs = map[string]int{}
	r.winFails = 0
	r.winLost = 0
	r.winDying = 0
	r.killAt = time.Time{}
	r.winSamples = nil
}

func (r *recorder) ack(a ack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acks = append(r.acks, a)
	if a.dup {
		r.dups++
	}
	if !r.markAt.IsZero() && a.start.After(r.markAt) {
		if r.firstAt.IsZero() {
			r.firstAt, r.firstPub = a.at, a.pub
		}
		if r.perPubFirst[a.pub].IsZero() {
			r.perPubFirst[a.pub] = a.at
		}
		r.perPubAcks[a.pub]++
	}
}

func errClass(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func (r *recorder) fail(err error, p int, start time.Time) {
	c := errClass(err)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totalErrs[c]++
	r.totalFails++
	if !r.allBackLocked() {
		r.winErrs[c]++
		r.winFails++
		if !r.killAt.IsZero() && start.After(r.killAt) && !start.After(r.markAt) && err == nats.ErrTimeout {
			r.winDying++
		}
		if start.After(r.markAt) {
			if err == nats.ErrTimeout {
				r.winLost++
			}
			if len(r.winSamples) < 6 {
				r.winSamples = append(r.winSamples, fmt.Sprintf("pub%d sent +%.3fs, failed +%.3fs: %s",
					p, start.Sub(r.markAt).Seconds(), now.Sub(r.markAt).Seconds(), c))
			}
		}
	}
}

func (r *recorder) allBackLocked() bool {
	if r.markAt.IsZero() {
		return true
	}
	for _, t := range r.perPubFirst {
		if t.IsZero() {
			return false
		}
	}
	return true
}

// state returns the first ack after the mark, the time every publisher had
// one, and the fewest acks of any publisher since the mark.
func (r *recorder) state() (first, allBack time.Time, minAcks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first = r.firstAt
	minAcks = math.MaxInt
	for i, t := range r.perPubFirst {
		if t.IsZero() {
			allBack = time.Time{}
			minAcks = 0
			break
		}
		if t.After(allBack) {
			allBack = t
		}
		if r.perPubAcks[i] < minAcks {
			minAcks = r.perPubAcks[i]
		}
	}
	return
}

// setKill: attempts sent from t (the SIGKILL) to the mark (the exit) are
// counted apart when they time out.
func (r *recorder) setKill(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killAt = t
}

func (r *recorder) windowErrs() (fails, lost, dying int, errs, samples string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.winFails, r.winLost, r.winDying, fmtErrs(r.winErrs), strings.Join(r.winSamples, "; ")
}

func fmtErrs(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || (l[i].v == l[j].v && l[i].k < l[j].k) })
	var b []string
	for _, e := range l {
		b = append(b, fmt.Sprintf("%d× %q", e.v, e.k))
	}
	return strings.Join(b, ", ")
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acks)
}

// publisher p: connected to all three nodes, preferring node p%3.
func publisher(c *Cluster, p int, rec *recorder, stop, abort *atomic.Bool, wg *sync.WaitGroup) {
	defer wg.Done()
	k := len(c.Nodes)
	urls := c.Nodes[p%k].URL() + "," + c.Nodes[(p+1)%k].URL() + "," + c.Nodes[(p+2)%k].URL()
	nc, js := connect(urls, fmt.Sprintf("pub%d", p))
	defer nc.Close()
	subject := fmt.Sprintf("fo.p%d", p)
	for n := 0; !stop.Load(); n++ {
		id := fmt.Sprintf("p%d-%07d", p, n)
		body := []byte(payload(id, *size))
		msgStart := time.Now()
		for {
			if abort.Load() || time.Since(msgStart) > 10*time.Minute {
				rec.mu.Lock()
				rec.gaveUp = append(rec.gaveUp, id)
				rec.mu.Unlock()
				return
			}
			m := nats.NewMsg(subject)
			m.Data = body
			m.Header.Set(nats.MsgIdHdr, id)
			start := time.Now()
			atomic.AddInt64(&rec.attempts, 1)
			pa, err := js.PublishMsg(m, nats.AckWait(*pubTimeout), nats.RetryAttempts(0))
			if err == nil {
				rec.ack(ack{id: id, seq: pa.Sequence, pub: p, start: start, at: time.Now(), dup: pa.Duplicate})
				break
			}
			rec.fail(err, p, start)
			time.Sleep(*retryPause)
		}
		if *pubPause > 0 {
			time.Sleep(*pubPause)
		}
	}
}

// waitFlowing: every publisher has had `n` acks of attempts started now or later.
func waitFlowing(rec *recorder, n int, d time.Duration) error {
	rec.mark(time.Now())
	return waitFor(d, func() error {
		if _, _, m := rec.state(); m < n {
			return fmt.Errorf("a publisher has %d acks since the mark", m)
		}
		return nil
	})
}

// waitFirstAck waits (bounded) for the first ack after the current mark and,
// for another `more` at most, for every publisher to have one.
func waitFirstAck(rec *recorder, d, more time.Duration) (first, allBack time.Time) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if first, _, _ = rec.state(); !first.IsZero() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if first.IsZero() {
		return
	}
	deadline = time.Now().Add(more)
	for time.Now().Before(deadline) {
		if _, allBack, _ = rec.state(); !allBack.IsZero() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return
}

type killRow struct {
	n                 int
	victim, newLeader string
	pid               int
	leaderSeen        time.Duration // kill -> STREAM.INFO names another leader (-1: never)
	window            time.Duration // kill -> first ack (-1: none within the bound)
	allBack           time.Duration // kill -> every publisher acked again (-1: not within the bound)
	fails             int
	lost              int // attempts sent after the exit that timed out without an answer
	dying             int // attempts sent between the SIGKILL and the exit that timed out
	exit              time.Duration
	errs, samples     string
	healthy           time.Duration // restart -> all replicas current (-1: not within the bound)
	healthyErr        string
}

type allRow struct {
	n            int
	up           time.Duration // processes started -> all ports accept
	window       time.Duration // processes started -> first ack (-1: none)
	fromKill     time.Duration // SIGKILL -> first ack
	allBack      time.Duration // processes started -> every publisher acked again
	fails        int
	lost         int
	dying        int
	errs         string
	samples      string
	healthy      time.Duration // processes started -> all replicas current
	leaderBefore string
	leaderAfter  string
}

func secs(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	return fmt.Sprintf("%.3f", d.Seconds())
}

// pct: nearest-rank percentile of the windows; a missing window (-1) counts
// as longer than any measured one.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		if s[i] < 0 {
			s[i] = time.Duration(math.MaxInt64)
		}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	if s[i] == time.Duration(math.MaxInt64) {
		return -1
	}
	return s[i]
}

func pctStr(ds []time.Duration, p float64, bound time.Duration) string {
	v := pct(ds, p)
	if v < 0 {
		return ">" + secs(bound)
	}
	return secs(v)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func main() {
	flag.Parse()
	if *bin == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: failover -bin SERVER -dir WORKDIR [flags]")
		os.Exit(2)
	}
	if *label == "" {
		*label = *kind
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Printf("\nsignal %v: killing the servers\n", s)
		if theCluster != nil {
			theCluster.KillAllNow()
		}
		os.Exit(130)
	}()
	t0 := time.Now()
	fmt.Printf("== failover-js: %s (%s), %d leader kills, %d all-node restarts, %d publishers, attempt bound %v, retry pause %v, pause %v, %d B payloads; load average %s; %s\n",
		*label, *bin, *kills, *repeatAll, *publishers, *pubTimeout, *retryPause, *pubPause, *size, loadavg(), t0.UTC().Format("2006-01-02 15:04 UTC"))

	c := NewCluster3(*bin, *dir, *jsExtra)
	for _, n := range c.Nodes {
		c.Spawn(n)
	}
	for _, n := range c.Nodes {
		if err := c.WaitUp(n, 20*time.Second); err != nil {
			die("%v", err)
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		die("cluster not ready: %v", err)
	}
	nc, js := connect(c.URLs(), "admin")
	defer nc.Close()
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"fo.>"}, Replicas: 3, Storage: nats.FileStorage}); err != nil {
		die("add stream: %v", err)
	}
	if _, err := waitStreamHealthy(js, stream, 0, 30*time.Second); err != nil {
		die("stream not healthy: %v", err)
	}
	fmt.Printf("cluster ready and stream %s (R3, file) healthy after %v\n", stream, time.Since(t0).Round(time.Millisecond))

	rec := newRecorder(*publishers)
	var stop, abort atomic.Bool
	var pwg sync.WaitGroup
	for p := 0; p < *publishers; p++ {
		pwg.Add(1)
		go publisher(c, p, rec, &stop, &abort, &pwg)
	}
	if err := waitFlowing(rec, 20, 30*time.Second); err != nil {
		die("publishers not acknowledged: %v", err)
	}
	end := t0.Add(*budget)
	var notes []string
	// timeline, for telling when an ack arrived
	type event struct {
		at   time.Time
		what string
	}
	events := []event{{time.Now(), "steady publishing before the first kill"}}
	var evMu sync.Mutex
	addEvent := func(what string) {
		evMu.Lock()
		events = append(events, event{time.Now(), what})
		evMu.Unlock()
	}
	when := func(a ack) string {
		if a.at.IsZero() {
			return "never"
		}
		evMu.Lock()
		defer evMu.Unlock()
		ph := "before the publishers were checked"
		for _, e := range events {
			if !e.at.After(a.at) {
				ph = e.what
			}
		}
		return fmt.Sprintf("at +%.3fs, sent +%.3fs, during %s", a.at.Sub(t0).Seconds(), a.start.Sub(t0).Seconds(), ph)
	}
	note := func(format string, args ...interface{}) {
		s := fmt.Sprintf(format, args...)
		notes = append(notes, s)
		fmt.Println("NOTE: " + s)
	}

	// --- leader SIGKILLs ---------------------------------------------------
	var rows []killRow
	var windows, allBacks []time.Duration
	for k := 1; k <= *kills; k++ {
		if time.Now().After(end) {
			note("budget %v used up: stopped after %d of %d leader kills", *budget, k-1, *kills)
			break
		}
		if _, err := waitStreamHealthy(js, stream, 0, *healthyTimeout); err != nil {
			note("kill %d: stream not healthy before the kill (%v): killing anyway", k, err)
		}
		if err := waitFlowing(rec, 10, 30*time.Second); err != nil {
			note("kill %d: publishers not all acknowledged before the kill: %v", k, err)
		}
		leader, err := leaderOf(js, stream, 30*time.Second)
		if err != nil {
			die("kill %d: no stream leader: %v", k, err)
		}
		victim := c.ByName(leader)
		if victim == nil {
			die("stream leader %q is not a node of this cluster", leader)
		}
		row := killRow{n: k, victim: leader, pid: c.PID(victim), leaderSeen: -1, window: -1, allBack: -1, healthy: -1}
		addEvent(fmt.Sprintf("kill %d (SIGKILL of leader %s)", k, leader))
		killAt := time.Now()
		c.Kill(victim)
		deadAt := time.Now()
		rec.mark(deadAt) // attempts sent after the process is gone
		rec.setKill(killAt)
		row.exit = deadAt.Sub(killAt)
		// who leads next, and when STREAM.INFO first says so
		var seenMu sync.Mutex
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			deadline := time.Now().Add(*ackTimeout)
			for time.Now().Before(deadline) {
				si, err := js.StreamInfo(stream, nats.MaxWait(100*time.Millisecond))
				if err == nil && si.Cluster != nil && si.Cluster.Leader != "" && si.Cluster.Leader != leader {
					seenMu.Lock()
					row.leaderSeen, row.newLeader = time.Since(killAt), si.Cluster.Leader
					seenMu.Unlock()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		first, allBack := waitFirstAck(rec, *ackTimeout, 10*time.Second)
		if !first.IsZero() {
			row.window = first.Sub(killAt)
			windows = append(windows, row.window)
		} else {
			windows = append(windows, -1)
			note("kill %d: no publish acknowledged within %v of the SIGKILL of %s", k, *ackTimeout, leader)
		}
		if !allBack.IsZero() {
			row.allBack = allBack.Sub(killAt)
		}
		allBacks = append(allBacks, row.allBack)
		row.fails, row.lost, row.dying, row.errs, row.samples = rec.windowErrs()
		<-watchDone
		addEvent(fmt.Sprintf("kill %d: after the restart of %s", k, leader))
		restartAt := time.Now()
		c.Spawn(victim)
		if err := c.WaitUp(victim, 20*time.Second); err != nil {
			die("restart of %s: %v", victim.Name, err)
		}
		if _, err := waitStreamHealthy(js, stream, 0, *healthyTimeout); err != nil {
			row.healthyErr = err.Error()
			note("kill %d: replicas not all current within %v of restarting %s: %v", k, *healthyTimeout, victim.Name, err)
		} else {
			row.healthy = time.Since(restartAt)
		}
		seenMu.Lock()
		fmt.Printf("kill %2d: SIGKILL %s (pid %d, exited after %ss) -> first ack %ss (every publisher %ss), STREAM.INFO names %s after %ss; %d failed attempts: %d sent while it was dying and %d sent after its exit timed out; restart -> all current %ss\n",
			k, leader, row.pid, secs(row.exit), secs(row.window), secs(row.allBack), row.newLeader, secs(row.leaderSeen), row.fails, row.dying, row.lost, secs(row.healthy))
		seenMu.Unlock()
		rows = append(rows, row)
	}

	// --- all three nodes SIGKILLed, restarted at once ----------------------
	var arows []allRow
	var awindows []time.Duration
	for r := 1; r <= *repeatAll; r++ {
		if time.Now().After(end) {
			note("budget %v used up: stopped after %d of %d all-node restarts", *budget, r-1, *repeatAll)
			break
		}
		if _, err := waitStreamHealthy(js, stream, 0, *healthyTimeout); err != nil {
			note("restart-all %d: stream not healthy before (%v)", r, err)
		}
		if err := waitFlowing(rec, 10, 30*time.Second); err != nil {
			note("restart-all %d: publishers not all acknowledged before: %v", r, err)
		}
		row := allRow{n: r, window: -1, fromKill: -1, allBack: -1, healthy: -1}
		row.leaderBefore, _ = leaderOf(js, stream, 10*time.Second)
		addEvent(fmt.Sprintf("restart-all %d (SIGKILL of all three)", r))
		killAt := time.Now()
		var dones []chan struct{}
		for _, n := range c.Nodes {
			dones = append(dones, c.Signal(n, syscall.SIGKILL))
		}
		for i, n := range c.Nodes {
			if !c.Reap(n, dones[i], 10*time.Second) {
				die("%s did not exit within 10 s of SIGKILL", n.Name)
			}
		}
		rec.mark(time.Now())
		rec.setKill(killAt)
		for _, n := range c.Nodes {
			c.Spawn(n)
		}
		startedAt := time.Now()
		addEvent(fmt.Sprintf("restart-all %d, after the restart", r))
		for _, n := range c.Nodes {
			if err := c.WaitUp(n, 30*time.Second); err != nil {
				die("restart-all %d: %v", r, err)
			}
		}
		row.up = time.Since(startedAt)
		first, allBack := waitFirstAck(rec, *allAckTimeout, 20*time.Second)
		if !first.IsZero() {
			row.window = first.Sub(startedAt)
			row.fromKill = first.Sub(killAt)
			awindows = append(awindows, row.window)
		} else {
			awindows = append(awindows, -1)
			note("restart-all %d: no publish acknowledged within %v of the restart", r, *allAckTimeout)
		}
		if !allBack.IsZero() {
			row.allBack = allBack.Sub(startedAt)
		}
		row.fails, row.lost, row.dying, row.errs, row.samples = rec.windowErrs()
		if _, err := waitStreamHealthy(js, stream, 0, *healthyTimeout); err != nil {
			note("restart-all %d: replicas not all current within %v: %v", r, *healthyTimeout, err)
		} else {
			row.healthy = time.Since(startedAt)
		}
		row.leaderAfter, _ = leaderOf(js, stream, 10*time.Second)
		fmt.Printf("restart-all %d: processes started -> ports %ss, first ack %ss (SIGKILL -> first ack %ss, every publisher %ss), all current %ss; %d failed attempts (timed out: %d sent while they were dying, %d after); leader %s -> %s\n",
			r, secs(row.up), secs(row.window), secs(row.fromKill), secs(row.allBack), secs(row.healthy), row.fails, row.dying, row.lost, row.leaderBefore, row.leaderAfter)
		arows = append(arows, row)
	}

	// --- stop the publishers, check ------------------------------------------
	waitFlowing(rec, 10, 30*time.Second)
	stop.Store(true)
	pdone := make(chan struct{})
	go func() { pwg.Wait(); close(pdone) }()
	select {
	case <-pdone:
	case <-time.After(60 * time.Second):
		abort.Store(true)
		note("publishers still retrying 60 s after the stop: aborted")
		select {
		case <-pdone:
		case <-time.After(10 * time.Second):
		}
	}
	rec.mu.Lock()
	acks := append([]ack(nil), rec.acks...)
	totalFails, totalErrs, dups, gaveUp := rec.totalFails, fmtErrs(rec.totalErrs), rec.dups, append([]string(nil), rec.gaveUp...)
	rec.mu.Unlock()
	attempts := atomic.LoadInt64(&rec.attempts)
	fmt.Printf("\n== replica check: %d acks (%d duplicates), %d attempts, %d failed attempts\n", len(acks), dups, attempts, totalFails)
	vstart := time.Now()
	addEvent("the end of the run")
	if f, err := os.Create(*dir + "/acks.tsv"); err == nil {
		fmt.Fprintf(f, "id\tseq\tpublisher\tsent_s\tacked_s\tduplicate\n")
		for _, a := range acks {
			fmt.Fprintf(f, "%s\t%d\t%d\t%.6f\t%.6f\t%v\n", a.id, a.seq, a.pub, a.start.Sub(t0).Seconds(), a.at.Sub(t0).Seconds(), a.dup)
		}
		f.Close()
	}
	if f, err := os.Create(*dir + "/events.tsv"); err == nil {
		for _, e := range events {
			fmt.Fprintf(f, "%.6f\t%s\n", e.at.Sub(t0).Seconds(), e.what)
		}
		f.Close()
	}
	v := verify(c, nc, js, stream, acks, *readWorkers, *healthyTimeout, when)
	fmt.Printf("  check took %v\n", time.Since(vstart).Round(time.Millisecond))

	// --- summary -------------------------------------------------------------
	fmt.Printf("\n== Leader SIGKILL: %s, %d kills (windows from the SIGKILL; s)\n", *label, len(rows))
	fmt.Printf("| kill | leader killed | first ack | every publisher acked | STREAM.INFO names new leader (polled, 100 ms bound) | new leader | failed attempts | timeouts: sent while dying / after exit | restart -> all replicas current |\n")
	fmt.Printf("| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n")
	for _, r := range rows {
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %d | %d / %d | %s |\n", r.n, r.victim, secs(r.window), secs(r.allBack), secs(r.leaderSeen), r.newLeader, r.fails, r.dying, r.lost, secs(r.healthy))
	}
	fmt.Printf("\n| leader SIGKILL -> first ack (s) | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |\n")
	fmt.Printf("| %s, %d kills | %s | %s | %s | %s |\n", *label, len(windows),
		pctStr(windows, .5, *ackTimeout), pctStr(windows, .9, *ackTimeout), pctStr(windows, .99, *ackTimeout), pctStr(windows, 1, *ackTimeout))
	fmt.Printf("| every publisher acked again | %s | %s | %s | %s |\n",
		pctStr(allBacks, .5, *ackTimeout), pctStr(allBacks, .9, *ackTimeout), pctStr(allBacks, .99, *ackTimeout), pctStr(allBacks, 1, *ackTimeout))
	fmt.Printf("(nearest rank: with fewer than 100 kills p99 is the largest window)\n")
	fmt.Printf("\n== All three nodes SIGKILLed and restarted at once: %s (s)\n", *label)
	fmt.Printf("| run | processes started -> ports accept | -> first ack | SIGKILL -> first ack | -> every publisher acked | -> all replicas current | leader before -> after |\n")
	fmt.Printf("| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range arows {
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s -> %s |\n", r.n, secs(r.up), secs(r.window), secs(r.fromKill), secs(r.allBack), secs(r.healthy), r.leaderBefore, r.leaderAfter)
	}
	fmt.Printf("\n== Replica check: %s\n", *label)
	fmt.Printf("acknowledged ids %d, stream messages %d (seq %d..%d), replicas read %d, identical at every sequence: %v (%d divergent)\n",
		v.Acked, v.StreamMsgs, v.First, v.Last, v.ReplicasRead, v.Identical && v.ReplicasRead == len(c.Nodes), len(v.Divergent))
	var nodes []string
	for node := range v.MissingAcked {
		nodes = append(nodes, node)
	}
	sort.Strings(nodes)
	for _, node := range nodes {
		m := v.MissingAcked[node]
		fmt.Printf("  %s: acknowledged missing %d, stored twice %d, wrong payload %d\n", node, len(m), v.StoredTwice[node], v.BadPayload[node])
	}
	fmt.Printf("stored but never acknowledged: %d; ack conflicts: %d; read errors: %d; publisher gave up on: %v\n", v.NotAcked, len(v.AckConflicts), v.ReadErrors, gaveUp)
	for i, s := range v.AckConflicts {
		if i == 20 {
			break
		}
		fmt.Println("  " + s)
	}
	for _, p := range v.Problems {
		fmt.Println("PROBLEM: " + p)
	}
	fmt.Printf("publish errors over the run (%d): %s\n", totalFails, totalErrs)
	for _, r := range rows {
		if r.errs != "" {
			fmt.Printf("  kill %d window errors: %s\n", r.n, r.errs)
			if r.samples != "" {
				fmt.Printf("    sent after the exit (times from it): %s\n", r.samples)
			}
		}
	}
	for _, r := range arows {
		if r.errs != "" {
			fmt.Printf("  restart-all %d window errors: %s\n", r.n, r.errs)
			if r.samples != "" {
				fmt.Printf("    sent after the exits (times from them): %s\n", r.samples)
			}
		}
	}
	for _, n := range notes {
		fmt.Println("NOTE: " + n)
	}
	ok := v.OK() && len(gaveUp) == 0
	for _, w := range append(append([]time.Duration(nil), windows...), awindows...) {
		if w < 0 {
			ok = false
		}
	}
	var aw []string
	for _, w := range awindows {
		if w < 0 {
			aw = append(aw, ">"+secs(*allAckTimeout))
		} else {
			aw = append(aw, secs(w))
		}
	}
	result := "ok"
	if !ok {
		result = "FAILED"
	}
	if n := connectFailures.Load(); n > 0 {
		fmt.Printf("NOTE: %d first connects failed and were retried (see the NOTE lines above)\n", n)
	}
	fmt.Printf("load average at the end: %s; total %v\n", loadavg(), time.Since(t0).Round(time.Second))
	fmt.Printf("\nFAILOVER-JS %s: leader SIGKILL -> first ack p50 %ss p90 %ss p99 %ss max %ss (%d kills); all 3 SIGKILLed, restarted -> first ack %ss; acked %d, missing on some replica %d, ack conflicts %d, replicas identical %v (%d/3 read, %d divergent); %s\n",
		*label, pctStr(windows, .5, *ackTimeout), pctStr(windows, .9, *ackTimeout), pctStr(windows, .99, *ackTimeout), pctStr(windows, 1, *ackTimeout), len(windows),
		strings.Join(aw, " "), v.Acked, v.MissingAny, len(v.AckConflicts), v.Identical && v.ReplicasRead == len(c.Nodes), v.ReplicasRead, len(v.Divergent), result)
	c.StopAll()
	if !ok {
		os.Exit(1)
	}
}
