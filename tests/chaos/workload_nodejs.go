package main

// nats.js clients in the workload (issue 12: several concurrent clients,
// nats.go and nats.js). tests/chaos/js/workload.mjs (nats.js v2, the `nats`
// npm package pinned by tests/chaos/js/package-lock.json) runs --js-publishers
// publishers (ids js<P>-<k>, retried with the same id until acknowledged) and
// --js-consumers durable pull consumers (JS1, JS2, ...; created here like C1
// and C2) in one node process, started and stopped by PID with the run. It
// appends one record per line to <run dir>/js-workload.log (format in
// workload.mjs); this file follows it and merges the records: attempts and
// acks into the History (so checks (a), (b), (c) cover them), deliveries and
// confirmed acks into a Consumer that check (d) treats like C1 and C2. An
// exit of the process before the harness tells it to is a failure.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

var (
	jsPublishers = flag.Int("js-publishers", 2, "nats.js publishers (tests/chaos/js/workload.mjs); with --js-consumers 0: no nats.js workload")
	jsConsumers  = flag.Int("js-consumers", 1, "nats.js durable pull consumers (JS1, JS2, ...)")
	jsDirFlag    = flag.String("js-dir", "", "directory holding workload.mjs (default: the js dir next to this package's source, ./js or ./tests/chaos/js)")
	jsNodeFlag   = flag.String("js-node", "node", "Node.js binary")
)

// JSResult: the nats.js clients' figures (result.json "js_workload").
type JSResult struct {
	Skipped         string   `json:"skipped,omitempty"`
	NatsJSVersion   string   `json:"nats_js_version,omitempty"`
	Publishers      int      `json:"publishers"`
	Consumers       []string `json:"consumers"`
	Attempts        int64    `json:"publish_attempts"`
	Acked           int      `json:"acked"`
	Errors          int64    `json:"publish_errors"`
	Timeouts        int64    `json:"publish_timeouts"`
	Received        int      `json:"received"`
	Deliveries      int64    `json:"deliveries"`
	Duplicates      int64    `json:"duplicates"`
	RedeliveredFlag int64    `json:"redelivered_flag"`
	MissingAcked    int      `json:"missing_acked"`
	BadRecords      int      `json:"bad_records"`
	Exit            string   `json:"exit,omitempty"`
}

type JSWorkload struct {
	r       *Run
	res     JSResult
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdinMu sync.Mutex
	logPath string
	errPath string
	cons    map[string]*Consumer
	mu      sync.Mutex // res counters

	ready, pubsStopped, consStopped closeOnce
	procDone                        chan struct{} // cmd.Wait returned
	exited                          chan struct{} // procDone and every record read
	waitErr                         error
	told                            atomic.Bool // told to exit (or killed)
}

type closeOnce struct {
	once sync.Once
	ch   chan struct{}
}

func newCloseOnce() closeOnce { return closeOnce{ch: make(chan struct{})} }
func (c *closeOnce) close()   { c.once.Do(func() { close(c.ch) }) }

func newJSWorkload(r *Run) *JSWorkload {
	return &JSWorkload{r: r, cons: map[string]*Consumer{}, ready: newCloseOnce(), pubsStopped: newCloseOnce(),
		consStopped: newCloseOnce(), procDone: make(chan struct{}), exited: make(chan struct{})}
}

// findJSDir: where workload.mjs is.
func findJSDir() string {
	var cands []string
	if *jsDirFlag != "" {
		cands = []string{*jsDirFlag}
	} else {
		if _, file, _, ok := runtime.Caller(0); ok {
			cands = append(cands, filepath.Join(filepath.Dir(file), "js"))
		}
		cands = append(cands, "js", filepath.Join("tests", "chaos", "js"))
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "workload.mjs")); err == nil {
			if abs, err := filepath.Abs(d); err == nil {
				return abs
			}
			return d
		}
	}
	return ""
}

// findNatsJS: a node_modules holding the nats package (the js dir's own, or
// the JetStream suite's, pinned to the same version) and its version.
func findNatsJS(dir string) (string, string) {
	for _, nm := range []string{filepath.Join(dir, "node_modules"), filepath.Join(dir, "..", "..", "jetstream", "js", "node_modules")} {
		b, err := os.ReadFile(filepath.Join(nm, "nats", "package.json"))
		if err != nil {
			continue
		}
		var p struct{ Version string }
		json.Unmarshal(b, &p)
		return filepath.Clean(nm), p.Version
	}
	return "", ""
}

// startJS creates the JS consumers' durables and starts the node process
// (after the Go publishers and consumers). A missing node or nats package is
// not an error: the workload is skipped and the summary says why.
func (r *Run) startJS() (*JSWorkload, error) {
	j := newJSWorkload(r)
	j.res.Publishers = *jsPublishers
	for i := 0; i < *jsConsumers; i++ {
		j.res.Consumers = append(j.res.Consumers, fmt.Sprintf("JS%d", i+1))
	}
	if *jsPublishers <= 0 && *jsConsumers <= 0 {
		j.res.Skipped = "disabled (--js-publishers 0 --js-consumers 0)"
		return j, nil
	}
	node, err := exec.LookPath(*jsNodeFlag)
	if err != nil {
		j.res.Skipped = fmt.Sprintf("no Node.js (%s: %v)", *jsNodeFlag, err)
		return j, nil
	}
	dir := findJSDir()
	if dir == "" {
		j.res.Skipped = "tests/chaos/js/workload.mjs not found (--js-dir)"
		return j, nil
	}
	nodePath, version := findNatsJS(dir)
	if nodePath == "" {
		j.res.Skipped = fmt.Sprintf("the nats npm package is not installed (cd %s && npm ci)", dir)
		return j, nil
	}
	j.res.NatsJSVersion = version
	for _, name := range j.res.Consumers {
		cfg := &nats.ConsumerConfig{Durable: name, AckPolicy: nats.AckExplicitPolicy, AckWait: 10 * time.Second,
			DeliverPolicy: nats.DeliverAllPolicy, MaxAckPending: 20000}
		if err := retry(30*time.Second, func() error {
			_, err := r.a.JS().AddConsumer(streamName, cfg, nats.MaxWait(3*time.Second))
			return err
		}); err != nil {
			return j, fmt.Errorf("add consumer %s: %v", name, err)
		}
		j.cons[name] = &Consumer{Name: name, seen: map[uint64]string{}, acked: map[uint64]bool{}, ackedAt: map[uint64]time.Time{},
			firstReply: map[uint64]string{}, ackedCSeq: map[uint64]uint64{}, h: r.h}
	}
	j.logPath = filepath.Join(r.runDir, "js-workload.log")
	j.errPath = filepath.Join(r.runDir, "js-workload.stderr")
	if err := os.WriteFile(j.logPath, nil, 0o644); err != nil {
		return j, err
	}
	errf, err := os.Create(j.errPath)
	if err != nil {
		return j, err
	}
	defer errf.Close()
	args := []string{filepath.Join(dir, "workload.mjs"), "--urls", r.c.URLs(0), "--out", j.logPath,
		"--publishers", strconv.Itoa(*jsPublishers), "--consumers", strings.Join(j.res.Consumers, ","),
		"--stream", streamName, "--prefix", subjPrefix, "--interval-ms", strconv.Itoa(int(r.w.interval / time.Millisecond))}
	j.cmd = exec.Command(node, args...)
	j.cmd.Dir = r.runDir
	j.cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	j.cmd.Stdout, j.cmd.Stderr = errf, errf
	if j.stdin, err = j.cmd.StdinPipe(); err != nil {
		return j, err
	}
	if err := j.cmd.Start(); err != nil {
		return j, fmt.Errorf("start %s: %v", node, err)
	}
	r.logf("nats.js workload: node pid %d, nats %s, %d publishers, consumers %v, records in %s", j.cmd.Process.Pid, version, *jsPublishers, j.res.Consumers, j.logPath)
	go func() {
		j.waitErr = j.cmd.Wait()
		if !j.told.Load() { // reported as a failure by finish; logged now for the timeline
			r.logf("nats.js workload: node pid %d exited: %v", j.cmd.Process.Pid, j.waitErr)
			r.h.logf("nats.js workload: node pid %d exited: %v", j.cmd.Process.Pid, j.waitErr)
		}
		close(j.procDone)
	}()
	go j.follow()
	for _, name := range j.res.Consumers {
		r.w.cons = append(r.w.cons, j.cons[name])
	}
	// stop the publishers with the Go ones, the consumers when the checker
	// stops C1 and C2 (the same wait groups)
	r.w.wg.Add(1)
	go j.stopWhen(&r.w.wg, &r.w.stop, "stop-publishers", &j.pubsStopped, 25*time.Second)
	r.w.cwg.Add(1)
	go j.stopWhen(&r.w.cwg, &r.w.cstop, "stop-consumers", &j.consStopped, 9*time.Second)
	select {
	case <-j.ready.ch:
	case <-j.exited:
		return j, fmt.Errorf("node exited at start (%v): %s", j.waitErr, j.stderrTail())
	case <-time.After(15 * time.Second):
		r.logf("nats.js workload: not connected after 15 s (going on)")
	}
	return j, nil
}

func (j *JSWorkload) send(cmd string) {
	j.stdinMu.Lock()
	defer j.stdinMu.Unlock()
	if j.stdin != nil {
		io.WriteString(j.stdin, cmd+"\n")
	}
}

func (j *JSWorkload) stopWhen(wg *sync.WaitGroup, stop *atomic.Bool, cmd string, done *closeOnce, limit time.Duration) {
	defer wg.Done()
	for !stop.Load() {
		select {
		case <-j.exited:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	j.send(cmd)
	select {
	case <-done.ch:
	case <-j.exited:
	case <-time.After(limit):
		j.r.logf("nats.js workload: no answer to %s within %v", cmd, limit)
	}
}

// follow reads the records as they are appended, until the process has
// exited and everything it wrote is read.
func (j *JSWorkload) follow() {
	defer close(j.exited)
	f, err := os.Open(j.logPath)
	if err != nil {
		j.r.logf("nats.js workload: %v", err)
		<-j.procDone
		return
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<16)
	var partial []byte
	for {
		gone := false
		select {
		case <-j.procDone:
			gone = true
		default:
		}
		b, err := rd.ReadBytes('\n')
		partial = append(partial, b...)
		if err == nil {
			j.handle(strings.TrimRight(string(partial), "\n"))
			partial = partial[:0]
			continue
		}
		if gone {
			if len(partial) > 0 {
				j.handle(string(partial))
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unq(s string) string {
	var out string
	if json.Unmarshal([]byte(s), &out) != nil {
		return s
	}
	return out
}

func usTime(s string) time.Time {
	v, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMicro(v)
}

// handle merges one record (format: workload.mjs).
func (j *JSWorkload) handle(line string) {
	h := j.r.h
	f := strings.SplitN(line, " ", 7)
	bad := func() {
		j.mu.Lock()
		j.res.BadRecords++
		j.mu.Unlock()
		h.logf("nats.js: bad record %q", line)
	}
	switch {
	case f[0] == "att" && len(f) == 3:
		h.attempt(f[1])
		j.mu.Lock()
		j.res.Attempts++
		j.mu.Unlock()
	case f[0] == "ok" && len(f) == 6:
		seq, err := strconv.ParseUint(f[4], 10, 64)
		if err != nil {
			bad()
			return
		}
		h.result(f[1], usTime(f[2]), &nats.PubAck{Stream: f[3], Sequence: seq, Duplicate: f[5] == "1"}, nil)
	case f[0] == "err" && len(f) >= 4:
		msg := unq(strings.Join(f[3:], " "))
		err := errors.New("nats.js: " + msg)
		j.mu.Lock()
		j.res.Errors++
		if strings.Contains(strings.ToLower(msg), "timeout") {
			j.res.Timeouts++
			err = fmt.Errorf("nats.js: %w (%s)", nats.ErrTimeout, msg)
		}
		j.mu.Unlock()
		h.result(f[1], usTime(f[2]), nil, err)
	case f[0] == "dlv" && len(f) == 7 && j.cons[f[1]] != nil:
		seq, e1 := strconv.ParseUint(f[2], 10, 64)
		cseq, e2 := strconv.ParseUint(f[3], 10, 64)
		if e1 != nil || e2 != nil {
			bad()
			return
		}
		if f[4] == "1" {
			j.mu.Lock()
			j.res.RedeliveredFlag++
			j.mu.Unlock()
		}
		j.delivery(j.cons[f[1]], seq, cseq, f[5], unq(f[6]))
	case f[0] == "acked" && len(f) == 4 && j.cons[f[1]] != nil:
		c := j.cons[f[1]]
		seq, _ := strconv.ParseUint(f[2], 10, 64)
		cseq, _ := strconv.ParseUint(f[3], 10, 64)
		c.mu.Lock()
		c.acked[seq] = true
		c.ackedAt[seq] = time.Now()
		if cseq > c.ackedCSeq[seq] {
			c.ackedCSeq[seq] = cseq
		}
		c.mu.Unlock()
	case f[0] == "ackerr" && len(f) >= 4 && j.cons[f[1]] != nil:
		c := j.cons[f[1]]
		atomic.AddInt64(&c.ackErrs, 1)
		c.mu.Lock()
		c.lastErr = "ack: " + unq(strings.Join(f[3:], " "))
		c.mu.Unlock()
	case f[0] == "cerr" && len(f) >= 3 && j.cons[f[1]] != nil:
		c := j.cons[f[1]]
		atomic.AddInt64(&c.fetchErrs, 1)
		c.mu.Lock()
		c.lastErr = "fetch: " + unq(strings.Join(f[2:], " "))
		c.mu.Unlock()
	case f[0] == "info":
		h.logf("nats.js: %s", unq(strings.TrimPrefix(line, "info ")))
	case line == "ready":
		j.ready.close()
	case line == "pubs-stopped":
		j.pubsStopped.close()
	case line == "cons-stopped":
		j.consStopped.close()
	default:
		bad()
	}
}

// delivery: the same bookkeeping as the Go consumers (workload.go consume).
func (j *JSWorkload) delivery(c *Consumer, seq, cseq uint64, ndeliv, data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliveries++
	prev, ok := c.seen[seq]
	if !ok {
		c.seen[seq] = data
		c.firstReply[seq] = fmt.Sprintf("consumer seq %d at %s", cseq, time.Now().Format("15:04:05.000000"))
		return
	}
	c.dups++
	if c.acked[seq] {
		what := "delivered again"
		if cseq < c.ackedCSeq[seq] {
			c.staleAfterAck++
			what = "an older delivery read"
		} else {
			c.afterAck++
		}
		c.h.logf("consumer %s: seq %d %s (delivery %s, consumer seq %d; first read: %s) after the ackAck of consumer seq %d was confirmed at %s",
			c.Name, seq, what, ndeliv, cseq, c.firstReply[seq], c.ackedCSeq[seq], c.ackedAt[seq].Format("15:04:05.000000"))
	}
	if prev != data && len(c.mismatch) < 20 {
		c.mismatch = append(c.mismatch, fmt.Sprintf("seq %d: %q then %q", seq, prev, data))
	}
}

func (j *JSWorkload) stderrTail() string {
	b, _ := os.ReadFile(j.errPath)
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return s
}

// kill ends the process (asked first, then SIGKILL by PID); nil-safe.
func (j *JSWorkload) kill() {
	if j == nil || j.cmd == nil || j.cmd.Process == nil {
		return
	}
	j.told.Store(true)
	select {
	case <-j.procDone:
	default:
		j.send("exit")
		select {
		case <-j.procDone:
		case <-time.After(8 * time.Second):
			j.cmd.Process.Kill()
			j.res.Exit = "did not exit within 8 s when told: killed"
			select {
			case <-j.procDone:
			case <-time.After(5 * time.Second):
			}
		}
	}
	j.stdinMu.Lock()
	if j.stdin != nil {
		j.stdin.Close()
		j.stdin = nil
	}
	j.stdinMu.Unlock()
	select {
	case <-j.exited:
	case <-time.After(5 * time.Second):
	}
}

// finish: after the check; stops the process, fails the run on an exit
// nobody asked for, fills res.JS.
func (j *JSWorkload) finish(res *Result, fail func(string, ...interface{})) {
	if j == nil {
		return
	}
	res.JS = &j.res
	if j.res.Skipped != "" {
		j.r.logf("nats.js workload SKIPPED: %s", j.res.Skipped)
		return
	}
	if j.cmd != nil && j.cmd.Process != nil {
		select {
		case <-j.procDone:
			if !j.told.Load() {
				j.res.Exit = fmt.Sprintf("exited during the run: %v", j.waitErr)
				fail("nats.js workload (node pid %d) exited before it was told to: %v; stderr: %s", j.cmd.Process.Pid, j.waitErr, j.stderrTail())
			}
		default:
		}
		j.kill()
		if j.res.Exit == "" && j.waitErr != nil {
			j.res.Exit = fmt.Sprintf("exit when told: %v", j.waitErr)
		}
	}
	j.r.h.mu.Lock()
	for id := range j.r.h.acked {
		if strings.HasPrefix(id, "js") {
			j.res.Acked++
		}
	}
	j.r.h.mu.Unlock()
	for _, c := range res.Consumers {
		if j.cons[c.Name] != nil {
			j.res.Received += c.Distinct
			j.res.Deliveries += c.Deliveries
			j.res.Duplicates += c.Duplicates
			j.res.MissingAcked += c.MissingAcked
		}
	}
	if j.res.BadRecords > 0 {
		fail("nats.js workload: %d unreadable records in %s", j.res.BadRecords, j.logPath)
	}
	if j.res.Publishers > 0 && j.res.Acked == 0 {
		fail("nats.js publishers got no acknowledgement (%d attempts; stderr: %s)", j.res.Attempts, j.stderrTail())
	}
}

func printJS(r *Result) {
	j := r.JS
	if j == nil {
		return
	}
	if j.Skipped != "" {
		fmt.Printf("   nats.js workload: SKIPPED: %s\n", j.Skipped)
		return
	}
	fmt.Printf("   nats.js %s: %d publishers: %d attempts, %d acked, %d errors (%d timeouts); consumers %s: %d received, %d deliveries, %d duplicates (%d flagged redelivered), %d acked msgs missing",
		j.NatsJSVersion, j.Publishers, j.Attempts, j.Acked, j.Errors, j.Timeouts, strings.Join(j.Consumers, ","), j.Received, j.Deliveries, j.Duplicates, j.RedeliveredFlag, j.MissingAcked)
	if j.Exit != "" {
		fmt.Printf("; %s", j.Exit)
	}
	fmt.Println()
}
