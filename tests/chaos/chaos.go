// Command chaos is the process-mode fault harness for Herald (issue 12,
// first part): a cluster of 3 or 5 herald (or nats-server) processes, an R3
// stream with allow_direct, concurrent publishers with Nats-Msg-Id and pull
// consumers, a seeded nemesis (SIGKILL of the leader / a follower / a
// majority / every node, SIGSTOP of the leader), then heal and check: no
// acknowledged publish lost, replicas identical at every sequence (read from
// each replica on its own), nothing unpublished stored, consumers saw every
// acknowledged message. See README.md.
//
//	chaos [--server-kind herald|nats-server] [--server-bin PATH] [--nodes 3|5]
//	      [--seed N] [--duration 60s] [--faults kill-leader,kill-follower,...|mixed]
//	      [--run-dir DIR] [--json FILE] [--keep]
//	chaos summarize FILE.json...
//	chaos report [--doc FILE] FILE.json...   (report.go)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type Run struct {
	kind, bin    string
	nodes        int
	seed         int64
	duration     time.Duration
	classes      []string
	runDir       string
	readBudget   time.Duration
	consumerWait time.Duration
	c            *Cluster
	a            *Admin
	w            *Workload
	h            *History
	t0           time.Time
	out          *os.File
	netMode      string    // process | netns
	nn           *NetNS    // netns.go
	clock        *ClockCtl // clock.go
	kv           *KVLoad   // workload_kv.go
}

func (r *Run) logf(format string, a ...interface{}) {
	line := fmt.Sprintf("[%7.2fs] ", time.Since(r.t0).Seconds()) + fmt.Sprintf(format, a...)
	fmt.Println(line)
	if r.out != nil {
		fmt.Fprintln(r.out, line)
	}
}

type Result struct {
	ServerKind        string             `json:"server_kind"`
	Seed              int64              `json:"seed"`
	Nodes             int                `json:"nodes"`
	Faults            string             `json:"faults"`
	DurationS         float64            `json:"duration_s"`
	RunDir            string             `json:"run_dir"`
	Schedule          []string           `json:"schedule"`
	Events            []Event            `json:"events"`
	Attempts          int64              `json:"publish_attempts"`
	Acked             int                `json:"acked"`
	PublishErrors     int64              `json:"publish_errors"`
	PublishTimeouts   int64              `json:"publish_timeouts"`
	ErrorKinds        map[string]int     `json:"error_kinds"`
	Lost              int                `json:"lost"`
	LostExamples      []string           `json:"lost_examples,omitempty"`
	LostOnNode        map[string]int     `json:"lost_on_node"`
	Divergent         int                `json:"divergent_seqs"`
	DivergentExamples []string           `json:"divergent_examples,omitempty"`
	TSMismatch        int                `json:"timestamp_mismatch_seqs"`
	Unexpected        int                `json:"unexpected"`
	UnexpectedEx      []string           `json:"unexpected_examples,omitempty"`
	StoredTwice       int                `json:"stored_twice"`
	StoredTwiceEx     []string           `json:"stored_twice_examples,omitempty"`
	Holes             int                `json:"holes"`
	FirstSeq          uint64             `json:"first_seq"`
	LastSeq           uint64             `json:"last_seq"`
	StreamMsgs        uint64             `json:"stream_msgs"`
	ReplicaMsgs       map[string]int     `json:"replica_msgs"`
	ReadMs            map[string]float64 `json:"replica_read_ms"`
	Consumers         []ConsumerResult   `json:"consumers"`
	Duplicates        int64              `json:"duplicates"`
	AckedNoQuorum     int                `json:"acked_without_quorum"`
	GapsMs            []float64          `json:"gap_leader_kill_ms"`
	GapP50, GapP99    float64            `json:"-"`
	PauseGapsMs       []float64          `json:"gap_leader_pause_ms"`
	AllRestartMs      []float64          `json:"recovery_all_restart_ms"`
	MajorityRecoverMs []float64          `json:"recovery_majority_ms"`
	HealthyMs         []float64          `json:"healthy_after_heal_ms"`
	LocalDirect       map[string]string  `json:"direct_get_local_check"`
	Crashes           []string           `json:"crashes,omitempty"`
	Failures          []string           `json:"failures"`
	Passed            bool               `json:"passed"`
	// --net netns and the partition and clock classes (modes.go)
	Net        string               `json:"net,omitempty"`
	Figures    map[string][]float64 `json:"figures,omitempty"`
	Timestamps *TSStats             `json:"timestamps,omitempty"`
	JS         *JSResult            `json:"js_workload,omitempty"` // workload_nodejs.go
	KV         *KVResult            `json:"kv,omitempty"`          // checker_kv.go
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "summarize" {
		os.Exit(summarize(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "report" {
		os.Exit(reportMain(os.Args[2:])) // report.go
	}
	kind := flag.String("server-kind", "herald", "herald | nats-server")
	bin := flag.String("server-bin", "", "server binary (default: $SERVER_BIN; nats-server: /usr/sbin/nats-server)")
	nodes := flag.Int("nodes", 3, "cluster size (3 or 5)")
	seed := flag.Int64("seed", 0, "seed (0: from the clock)")
	duration := flag.Duration("duration", 60*time.Second, "fault phase length")
	faults := flag.String("faults", "mixed", "comma list of "+strings.Join(append(knownClasses(), diskClasses...), ",")+" or mixed")
	runDir := flag.String("run-dir", "", "run directory (default: a new dir under $TMPDIR/herald-chaos)")
	jsonOut := flag.String("json", "", "write the result JSON here too")
	keep := flag.Bool("keep", false, "keep the run dir even when the run passes")
	publishers := flag.Int("publishers", 4, "concurrent publishers")
	consumers := flag.Int("consumers", 2, "durable pull consumers")
	interval := flag.Duration("pub-interval", 5*time.Millisecond, "pause between a publisher's messages")
	netMode := flag.String("net", "process", "process (every node on 127.0.0.1) | netns (each node in its own network namespace; needed by the part-* classes)")
	flag.Parse()

	r := &Run{kind: *kind, bin: *bin, nodes: *nodes, seed: *seed, duration: *duration,
		readBudget: 120 * time.Second, consumerWait: 180 * time.Second, netMode: *netMode}
	if r.netMode != "process" && r.netMode != "netns" {
		fmt.Fprintf(os.Stderr, "--net: process or netns, not %q\n", r.netMode)
		os.Exit(2)
	}
	if r.bin == "" {
		r.bin = os.Getenv("SERVER_BIN")
	}
	if r.bin == "" && r.kind == "nats-server" {
		r.bin = "/usr/sbin/nats-server"
	}
	if r.bin == "" {
		fmt.Fprintln(os.Stderr, "herald needs --server-bin PATH (or SERVER_BIN)")
		os.Exit(2)
	}
	if r.seed == 0 {
		r.seed = time.Now().UnixNano() % 1000000
	}
	if *faults == "mixed" || *faults == "" {
		r.classes = mixedClasses(r.netMode, r.kind)
	} else {
		for _, f := range strings.Split(*faults, ",") {
			ok := false
			for _, c := range knownClasses() {
				ok = ok || c == f
			}
			ok = ok || isDiskClass(f) // nemesis_disk.go
			if !ok {
				fmt.Fprintf(os.Stderr, "unknown fault class %q (known: %s)\n", f, strings.Join(append(knownClasses(), diskClasses...), ","))
				os.Exit(2)
			}
			if isPartitionClass(f) && r.netMode != "netns" {
				fmt.Fprintf(os.Stderr, "fault class %s needs --net netns\n", f)
				os.Exit(2)
			}
			r.classes = append(r.classes, f)
		}
	}
	r.runDir = *runDir
	if r.runDir == "" {
		base := filepath.Join(os.TempDir(), "herald-chaos")
		os.MkdirAll(base, 0o755)
		d, err := os.MkdirTemp(base, fmt.Sprintf("%s-seed%d-", r.kind, r.seed))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		r.runDir = d
	}
	os.MkdirAll(r.runDir, 0o755)
	r.out, _ = os.Create(filepath.Join(r.runDir, "chaos.log"))
	res := r.execute(*publishers, *consumers, *interval, *faults)
	b, _ := json.MarshalIndent(res, "", "  ")
	os.WriteFile(filepath.Join(r.runDir, "result.json"), b, 0o644)
	if *jsonOut != "" {
		os.WriteFile(*jsonOut, b, 0o644)
	}
	printHuman(res)
	if res.Passed {
		if !*keep {
			os.RemoveAll(r.runDir)
		}
		os.Exit(0)
	}
	fmt.Printf("FAILED: seed %d, faults %s, run dir kept: %s\n", res.Seed, res.Faults, r.runDir)
	fmt.Printf("schedule:\n  %s\n", strings.Join(res.Schedule, "\n  "))
	os.Exit(1)
}

func (r *Run) execute(publishers, consumers int, interval time.Duration, faults string) *Result {
	r.t0 = time.Now()
	res := &Result{ServerKind: r.kind, Seed: r.seed, Nodes: r.nodes, Faults: strings.Join(r.classes, ","),
		DurationS: r.duration.Seconds(), RunDir: r.runDir}
	if faults == "mixed" || faults == "" {
		res.Faults = "mixed"
	}
	fail := func(f string, a ...interface{}) {
		res.Failures = append(res.Failures, fmt.Sprintf(f, a...))
		r.logf("FAIL: "+f, a...)
	}
	rng := rand.New(rand.NewSource(r.seed))
	steps := makeSchedule(rng, r.classes, r.duration)
	for i, s := range steps {
		res.Schedule = append(res.Schedule, fmt.Sprintf("%d %s", i+1, s))
	}
	r.logf("chaos: %s (%s), %d nodes, seed %d, faults %s, duration %v, run dir %s", r.kind, r.bin, r.nodes, r.seed, res.Faults, r.duration, r.runDir)
	r.logf("schedule (planned; steps that do not fit the duration are not run): %s", strings.Join(res.Schedule, "; "))

	res.Net = r.netMode
	hosts, err := r.setupNet()
	if err != nil {
		fail("network namespaces: %v", err)
		return res
	}
	defer r.closeNet()
	r.c, err = NewClusterOn(r.kind, r.bin, r.runDir, r.nodes, hosts)
	if err != nil {
		fail("cluster: %v", err)
		return res
	}
	defer r.c.Shutdown()
	if err := r.setupNodes(); err != nil {
		fail("node set-up: %v", err)
		return res
	}
	if err := r.c.StartAll(); err != nil {
		fail("start: %v", err)
		return res
	}
	r.a, err = NewAdmin(r.c)
	if err != nil {
		fail("admin connect: %v", err)
		return res
	}
	defer r.a.Close()
	for _, n := range r.c.Nodes {
		js := r.a.jss[n.Name]
		if err := retry(60*time.Second, func() error {
			_, err := js.AccountInfo(nats.MaxWait(2 * time.Second))
			return err
		}); err != nil {
			fail("JetStream not ready on %s: %v", n.Name, err)
			return res
		}
	}
	cfg := &nats.StreamConfig{Name: streamName, Subjects: []string{subjPrefix + ">"}, Replicas: 3,
		AllowDirect: true, Storage: nats.FileStorage}
	if err := retry(60*time.Second, func() error {
		_, err := r.a.JS().AddStream(cfg, nats.MaxWait(5*time.Second))
		if err != nil {
			if _, ierr := r.a.StreamInfo(); ierr == nil {
				return nil
			}
		}
		return err
	}); err != nil {
		fail("create stream: %v", err)
		return res
	}
	if _, err := r.a.WaitHealthy(3, 60*time.Second); err != nil {
		fail("stream not healthy after create: %v", err)
		return res
	}
	r.logf("cluster ready, stream %s R3 created", streamName)

	r.h = newHistory(filepath.Join(r.runDir, "history.log"))
	r.w = &Workload{c: r.c, h: r.h, interval: interval}
	defer r.w.Close()
	if err := r.w.StartConsumers(consumers, r.a); err != nil {
		fail("consumers: %v", err)
		return res
	}
	if err := r.w.StartPublishers(publishers); err != nil {
		fail("publishers: %v", err)
		return res
	}
	jsw, err := r.startJS() // nats.js clients, workload_nodejs.go
	defer jsw.kill()
	if err != nil {
		fail("nats.js workload: %v", err)
		return res
	}
	if err := r.startKV(*kvClientsFlag); err != nil { // workload_kv.go
		fail("KV workload: %v", err)
		return res
	}
	defer r.stopKV()
	time.Sleep(3 * time.Second)
	r.logf("warm-up: %d acked", r.h.ackCount())
	nm := &Nemesis{c: r.c, a: r.a, w: r.w, replicas: 3, t0: r.t0, logf: r.logf, nn: r.nn, clock: r.clock}
	res.Events = nm.Run(steps, time.Now().Add(r.duration))

	// heal everything, stop the publishers, wait for the replicas
	r.healExtra()
	if err := r.c.Heal(); err != nil {
		fail("heal: %v", err)
	}
	time.Sleep(2 * time.Second)
	r.w.StopPublishers()
	r.stopKV()
	if !waitGroup(&r.w.wg, 30*time.Second) {
		fail("publishers did not stop within 30s")
	}
	r.logf("workload stopped: %d acked", r.h.ackCount())
	var si *nats.StreamInfo
	if err := retry(120*time.Second, func() error {
		var err error
		si, err = r.a.Healthy(3)
		if err != nil {
			return err
		}
		if si.State.Msgs < uint64(r.h.ackCount()) {
			return fmt.Errorf("stream has %d messages, %d acked", si.State.Msgs, r.h.ackCount())
		}
		return nil
	}); err != nil {
		fail("not healthy 120s after healing: %v", err)
	}
	if si == nil || si.Cluster == nil || si.Cluster.Leader == "" {
		si, err = r.a.StreamInfo()
	}
	if si != nil && si.Cluster != nil && si.Cluster.Leader != "" {
		r.logf("checking: leader %s, seqs %d..%d, %d msgs", si.Cluster.Leader, si.State.FirstSeq, si.State.LastSeq, si.State.Msgs)
		cr := r.check(si)
		r.fill(res, cr)
	} else {
		fail("no stream leader to check against: %v", err)
	}
	r.checkKVRun(res, fail) // checker_kv.go
	r.h.mu.Lock()
	res.Attempts, res.Acked, res.PublishErrors, res.PublishTimeouts = r.h.attempts, len(r.h.acked), r.h.errCount, r.h.timeouts
	res.ErrorKinds = r.h.errs
	for _, w := range r.h.wrongAck {
		fail("bad ack: %s", w)
	}
	r.h.mu.Unlock()
	for _, ev := range res.Events {
		switch ev.Class {
		case "kill-leader":
			if ev.Skipped == "" {
				res.GapsMs = append(res.GapsMs, ev.GapMs)
			}
		case "pause-leader":
			if ev.Skipped == "" {
				res.PauseGapsMs = append(res.PauseGapsMs, ev.GapMs)
			}
		case "kill-all", "powerloss-all": // powerloss-all: nemesis_disk.go
			res.AllRestartMs = append(res.AllRestartMs, ev.RecoverMs)
		case "kill-majority":
			if ev.Skipped == "" {
				res.MajorityRecoverMs = append(res.MajorityRecoverMs, ev.RecoverMs)
			}
		}
		if ev.Skipped == "" {
			res.HealthyMs = append(res.HealthyMs, ev.HealthyMs)
		}
		addEventFigures(res, ev)
		res.AckedNoQuorum += len(ev.AckedWithoutQuorum)
		for _, a := range ev.AckedWithoutQuorum {
			fail("fault %d %s: acknowledged without a quorum: %s", ev.N, ev.Class, a)
		}
		for _, e := range ev.Errors {
			if strings.HasPrefix(e, "probe acknowledged") {
				fail("fault %d %s: %s", ev.N, ev.Class, e)
			} else {
				r.logf("fault %d %s: note: %s", ev.N, ev.Class, e)
			}
		}
	}
	for _, n := range r.c.Nodes {
		for _, c := range n.Crashes() {
			res.Crashes = append(res.Crashes, c)
			fail("%s", c)
		}
	}
	if len(res.Events) == 0 {
		fail("no fault was injected")
	}
	jsw.finish(res, fail)
	res.Passed = len(res.Failures) == 0
	if res.Failures == nil {
		res.Failures = []string{}
	}
	return res
}

func (r *Run) fill(res *Result, cr *CheckResult) {
	fail := func(f string, a ...interface{}) {
		res.Failures = append(res.Failures, fmt.Sprintf(f, a...))
		r.logf("FAIL: "+f, a...)
	}
	res.FirstSeq, res.LastSeq, res.StreamMsgs = cr.FirstSeq, cr.LastSeq, cr.StreamMsgs
	res.Lost, res.LostExamples, res.LostOnNode = cr.Lost, cr.LostExamples, cr.LostOnNode
	res.Divergent, res.DivergentExamples, res.TSMismatch = cr.Divergent, cr.DivergentExamples, cr.TSMismatch
	res.Unexpected, res.UnexpectedEx = cr.Unexpected, cr.UnexpectedExamples
	res.StoredTwice, res.StoredTwiceEx, res.Holes = cr.StoredTwice, cr.StoredTwiceEx, cr.Holes
	res.ReplicaMsgs, res.ReadMs, res.Consumers = cr.ReplicaMsgs, cr.ReadMs, cr.Consumers
	res.LocalDirect = cr.LocalDirect
	res.Timestamps = cr.Timestamps
	for n, v := range cr.LocalDirect {
		r.logf("direct get via %s: %s", n, v)
	}
	if cr.Lost > 0 {
		fail("%d acknowledged publishes lost (leader %s): %v", cr.Lost, cr.Leader, cr.LostExamples)
	}
	for n, k := range cr.LostOnNode {
		if k > 0 {
			fail("replica %s lacks %d acknowledged publishes", n, k)
		}
	}
	if cr.Divergent > 0 {
		fail("%d divergent sequences: %v", cr.Divergent, cr.DivergentExamples)
	}
	if cr.Unexpected > 0 {
		fail("%d stored messages never published: %v", cr.Unexpected, cr.UnexpectedExamples)
	}
	if cr.StoredTwice > 0 {
		fail("%d ids stored more than once (dedupe): %v", cr.StoredTwice, cr.StoredTwiceEx)
	}
	for _, p := range cr.Problems {
		fail("%s", p)
	}
	if len(cr.ReplicaNotCaughtUp) > 0 {
		r.logf("note: replicas not serving seq %d within 30s: %v", cr.LastSeq, cr.ReplicaNotCaughtUp)
	}
	for _, c := range cr.Consumers {
		res.Duplicates += c.Duplicates
		if c.MissingAcked > 0 {
			fail("consumer %s never received %d acknowledged messages (e.g. seqs %v)", c.Name, c.MissingAcked, c.MissingExamples)
		}
		if c.WrongPayload > 0 || len(c.Examples) > 0 {
			fail("consumer %s received payloads the stream does not hold: %v", c.Name, c.Examples)
		}
	}
}

func pct(v []float64, p float64) float64 {
	var s []float64
	for _, x := range v {
		if x >= 0 {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return -1
	}
	sort.Float64s(s)
	i := int(p/100*float64(len(s))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func fmtMs(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	neg := 0
	for _, x := range v {
		if x < 0 {
			neg++
		}
	}
	s := fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (n=%d)", pct(v, 50), pct(v, 99), len(v))
	if neg > 0 {
		s += fmt.Sprintf(", %d never", neg)
	}
	return s
}

func printHuman(r *Result) {
	st := "PASS"
	if !r.Passed {
		st = "FAIL"
	}
	fmt.Printf("== %s: %s seed %d nodes %d faults %s: %d faults injected\n", st, r.ServerKind, r.Seed, r.Nodes, r.Faults, len(r.Events))
	fmt.Printf("   publishes: %d attempts, %d acked, %d errors, %d timeouts; stream %d msgs (seq %d..%d), replicas %v\n",
		r.Attempts, r.Acked, r.PublishErrors, r.PublishTimeouts, r.StreamMsgs, r.FirstSeq, r.LastSeq, r.ReplicaMsgs)
	fmt.Printf("   lost %d, divergent seqs %d, unexpected %d, stored twice %d, acked without quorum %d, timestamp mismatches %d, holes %d\n",
		r.Lost, r.Divergent, r.Unexpected, r.StoredTwice, r.AckedNoQuorum, r.TSMismatch, r.Holes)
	for _, c := range r.Consumers {
		fmt.Printf("   consumer %s: %d deliveries, %d distinct, %d duplicates (%d sent after a confirmed ack, %d older deliveries read after it), %d acked msgs missing; errors: %d ack, %d fetch, %d subscribe %s\n",
			c.Name, c.Deliveries, c.Distinct, c.Duplicates, c.RedeliveredAfterAck, c.StaleReadAfterAck, c.MissingAcked, c.AckErrors, c.FetchErrors, c.SubscribeErrors, c.LastError)
	}
	fmt.Printf("   gap after leader SIGKILL: %s; after leader SIGSTOP: %s\n", fmtMs(r.GapsMs), fmtMs(r.PauseGapsMs))
	fmt.Printf("   first ack after all-node restart: %s; after majority heal: %s; healthy after heal: %s\n",
		fmtMs(r.AllRestartMs), fmtMs(r.MajorityRecoverMs), fmtMs(r.HealthyMs))
	local := 0
	for _, v := range r.LocalDirect {
		if strings.HasSuffix(v, "served locally") && !strings.HasSuffix(v, "not served locally") {
			local++
		}
	}
	if len(r.LocalDirect) > 0 && local < len(r.LocalDirect) {
		fmt.Printf("   NOTE: only %d of %d replicas answered a direct get with every other node paused: reads through the others may come from another replica, so per-node figures (lost_on_node, lost on the leader) are not attributable; a divergent sequence still means two replicas differ\n", local, len(r.LocalDirect))
	}
	printExtra(r)
	printJS(r) // workload_nodejs.go
	printKV(r)
	for _, f := range r.Failures {
		fmt.Printf("   FAIL %s\n", f)
	}
	kv := ""
	if r.KV != nil {
		kv = fmt.Sprintf(" kv_wins=%d kv_conflicts=%d kv_unknown=%d kv_violations=%d", r.KV.AckedWins, r.KV.Conflicts, r.KV.Unknown, r.KV.Violations)
	}
	fmt.Printf("RESULT %s server=%s seed=%d faults=%s acked=%d lost=%d divergent=%d duplicates=%d%s\n",
		st, r.ServerKind, r.Seed, r.Faults, r.Acked, r.Lost, r.Divergent, r.Duplicates, kv)
}

// summarize: per server kind and fault class, from result JSON files.
func summarize(files []string) int {
	type agg struct {
		runs, failed, acked, lost, div, unexp int
		dups                                  int64
		gaps, pauses, allr, maj, healthy      []float64
		seeds                                 []string
		figs                                  map[string][]float64
	}
	m := map[string]*agg{}
	var keys []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r Result
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		k := fmt.Sprintf("%-11s %d %-14s", r.ServerKind, r.Nodes, r.Faults)
		a := m[k]
		if a == nil {
			a = &agg{}
			m[k] = a
			keys = append(keys, k)
		}
		a.runs++
		if !r.Passed {
			a.failed++
			a.seeds = append(a.seeds, fmt.Sprint(r.Seed))
		}
		a.acked += r.Acked
		a.lost += r.Lost
		a.div += r.Divergent
		a.unexp += r.Unexpected
		a.dups += r.Duplicates
		a.gaps = append(a.gaps, r.GapsMs...)
		a.pauses = append(a.pauses, r.PauseGapsMs...)
		a.allr = append(a.allr, r.AllRestartMs...)
		a.maj = append(a.maj, r.MajorityRecoverMs...)
		a.healthy = append(a.healthy, r.HealthyMs...)
		if a.figs == nil {
			a.figs = map[string][]float64{}
		}
		for k, v := range r.Figures {
			a.figs[k] = append(a.figs[k], v...)
		}
	}
	sort.Strings(keys)
	fmt.Printf("%-11s %s %-14s %4s %4s %8s %4s %4s %4s %6s  %s\n", "server", "N", "faults", "runs", "fail", "acked", "lost", "div", "unex", "dups", "gaps (ms)")
	for _, k := range keys {
		a := m[k]
		fmt.Printf("%s %4d %4d %8d %4d %4d %4d %6d  leader-kill %s | pause %s | all-restart %s | majority-heal %s | healthy %s",
			k, a.runs, a.failed, a.acked, a.lost, a.div, a.unexp, a.dups, fmtMs(a.gaps), fmtMs(a.pauses), fmtMs(a.allr), fmtMs(a.maj), fmtMs(a.healthy))
		if len(a.seeds) > 0 {
			fmt.Printf(" | failed seeds %s", strings.Join(a.seeds, ","))
		}
		fmt.Println()
		printFigures("      ", a.figs)
	}
	return 0
}
