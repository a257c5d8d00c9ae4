package main

// Clock faults (libfaketime, Debian package faketime). When a clock class is
// selected, every node is started under libfaketime (LD_PRELOAD) reading its
// offset from <node dir>/faketime.rc ("+0" normally) on every call
// (FAKETIME_NO_CACHE=1), with CLOCK_MONOTONIC left alone
// (FAKETIME_DONT_FAKE_MONOTONIC=1): an NTP step or an operator's `date -s`
// moves the wall clock (CLOCK_REALTIME), never the monotonic one. The
// nemesis moves one node's wall clock for the hold by rewriting the file
// (write + rename):
//
//   clock-forward  +N s (N seeded from 10, 60, 300, 3600), back to +0 at heal
//   clock-back     -N s, back to +0 at heal
//   clock-strobe   +N and +0 alternately every 200 ms during the hold
//
// Target: the stream leader (even pick) or a seeded follower. Figures:
// offset_s, gap_ms (fault to the first ack of a probe started after it),
// max_ack_gap_ms (longest time without any ack during the hold),
// leader_changed. 2.5 s into the hold, up to 5 ids acknowledged in the 5 s
// before the fault are published again with their own Nats-Msg-Id (a client
// retrying after a lost ack): each must come back as a duplicate of its
// first sequence (redup_sent / redup_stored_again; a new sequence is also a
// "bad ack" and stored_twice, which fail the run). Message timestamps are
// the leader's wall clock: the checker reports how many go backwards in
// sequence order and how far they are from the time the publish was acked
// (timestamps in result.json).

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

var clockClasses = []string{"clock-forward", "clock-back", "clock-strobe"}

func isClockClass(c string) bool {
	for _, p := range clockClasses {
		if p == c {
			return true
		}
	}
	return false
}

var clockOffsets = []int{10, 60, 300, 3600}

var clockOffsetsFlag = flag.String("clock-offsets", "10,60,300,3600",
	"seconds a clock fault moves a node's wall clock by (seeded pick); above the stream's duplicate window (2 min) a leader's jump forward defeats Nats-Msg-Id dedupe")

func parseClockOffsets() error {
	var out []int
	for _, f := range strings.Split(*clockOffsetsFlag, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return fmt.Errorf("--clock-offsets: %q is not a positive number of seconds", f)
		}
		out = append(out, v)
	}
	clockOffsets = out
	return nil
}

type ClockCtl struct {
	lib   string
	files map[string]string // node name -> rc file
}

func findLibfaketime() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/faketime/libfaketime.so.1")
	m2, _ := filepath.Glob("/usr/lib/faketime/libfaketime.so.1")
	m = append(m, m2...)
	if len(m) == 0 {
		return "", fmt.Errorf("libfaketime.so.1 not found (apt-get install faketime; scripts/setup.sh installs it)")
	}
	return m[0], nil
}

func NewClockCtl(c *Cluster) (*ClockCtl, error) {
	lib, err := findLibfaketime()
	if err != nil {
		return nil, err
	}
	if err := parseClockOffsets(); err != nil {
		return nil, err
	}
	cc := &ClockCtl{lib: lib, files: map[string]string{}}
	for _, n := range c.Nodes {
		cc.files[n.Name] = filepath.Join(n.Dir, "faketime.rc")
		if err := cc.Set(n.Name, "+0"); err != nil {
			return nil, err
		}
	}
	return cc, nil
}

// Env: the environment that starts a node under libfaketime.
func (cc *ClockCtl) Env(name string) []string {
	return []string{"LD_PRELOAD=" + cc.lib, "FAKETIME_TIMESTAMP_FILE=" + cc.files[name],
		"FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_DONT_RESET=1"}
}

// Set writes the offset spec ("+0", "+60", "-300") atomically.
func (cc *ClockCtl) Set(name, spec string) error {
	f := cc.files[name]
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, []byte(spec+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f)
}

func (cc *ClockCtl) ResetAll() {
	for n := range cc.files {
		cc.Set(n, "+0")
	}
}

func (nm *Nemesis) doClock(ev *Event, s Step, leader string, followers []string) time.Time {
	target := leader
	if s.Pick%2 == 1 && len(followers) > 0 {
		target = followers[s.Pick/2%len(followers)]
	}
	off := clockOffsets[s.Pick/7%len(clockOffsets)]
	node := nm.c.ByName(target)
	hold := 2 * s.Hold
	ev.HoldMs = ms(hold)
	role := "leader"
	if target != leader {
		role = "follower"
	}
	spec := fmt.Sprintf("+%d", off)
	if s.Class == "clock-back" {
		spec = fmt.Sprintf("-%d", off)
	}
	ev.Targets = []string{fmt.Sprintf("%s (%s) clock %s s", target, role, spec)}
	before := nm.w.h.recentAcks(time.Now().Add(-5*time.Second), 5)
	node.mark(fmt.Sprintf("clock %s: wall clock %s s for %.1f s", s.Class, spec, hold.Seconds()))
	if err := nm.clock.Set(target, spec); err != nil {
		ev.Errors = append(ev.Errors, err.Error())
	}
	at := time.Now()
	gap := nm.probeAsync(at, hold+30*time.Second)
	stop := make(chan struct{})
	strobed := make(chan struct{})
	go func() {
		defer close(strobed)
		if s.Class != "clock-strobe" {
			return
		}
		on := true
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			on = !on
			if on {
				nm.clock.Set(target, spec)
			} else {
				nm.clock.Set(target, "+0")
			}
		}
	}()
	// a client retrying publishes whose ack it lost, while the clock is off
	// (2.5 s in: absl::Now() follows a step of the kernel's clock only at its
	// next calibration sample, up to a few seconds later)
	time.Sleep(2500 * time.Millisecond)
	redup, again := nm.w.republish(before, nm.idx(leader))
	if rest := hold - time.Since(at); rest > 0 {
		time.Sleep(rest)
	}
	close(stop)
	<-strobed
	heal := time.Now()
	if err := nm.clock.Set(target, "+0"); err != nil {
		ev.Errors = append(ev.Errors, err.Error())
	}
	node.mark("clock back to +0")
	ev.GapMs = <-gap
	ev.Figures = map[string]float64{"offset_s": float64(off), "gap_ms": ev.GapMs,
		"max_ack_gap_ms": nm.w.h.maxAckGap(at, heal), "redup_sent": float64(redup), "redup_stored_again": float64(len(again))}
	if s.Class == "clock-back" {
		ev.Figures["offset_s"] = -float64(off)
	}
	for _, a := range again {
		ev.Errors = append(ev.Errors, "dedupe: "+a)
	}
	if nl, _, err := nm.a.Leader(10 * time.Second); err == nil {
		ev.Figures["leader_changed"] = 0
		if nl != leader {
			ev.Figures["leader_changed"] = 1
		}
	}
	return heal
}

// recentAcks: up to k acks (first ack of their id, not probes) received after t.
func (h *History) recentAcks(t time.Time, k int) []ackRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ackRec
	for i := len(h.acks) - 1; i >= 0 && len(out) < k; i-- {
		a := h.acks[i]
		if a.At.Before(t) {
			break
		}
		if !a.Dup && h.acked[a.ID].Seq == a.Seq {
			out = append(out, a)
		}
	}
	return out
}

// republish sends each id again (same payload and Nats-Msg-Id) through the
// node with index `via` (else any connected one); returns how many were sent
// and those acknowledged at a sequence other than their first.
func (w *Workload) republish(acks []ackRec, via int) (int, []string) {
	var again []string
	sent := 0
	for _, a := range acks {
		js := w.probeJS[via]
		if !w.probeNC[via].IsConnected() {
			for j := range w.probeNC {
				if w.probeNC[j].IsConnected() {
					js = w.probeJS[j]
					break
				}
			}
		}
		subj := subjPrefix + "probe"
		if len(a.ID) > 1 && a.ID[0] == 'p' && a.ID[1] != 'r' { // publisher ids p<N>-<k>
			for i := 1; i < len(a.ID); i++ {
				if a.ID[i] == '-' {
					subj = subjPrefix + a.ID[:i]
					break
				}
			}
		}
		m := nats.NewMsg(subj)
		m.Data = []byte(payloadFor(a.ID))
		m.Header.Set(nats.MsgIdHdr, a.ID)
		w.h.attempt(a.ID)
		start := time.Now()
		ack, err := js.PublishMsg(m, nats.AckWait(2*time.Second))
		w.h.result(a.ID, start, ack, err)
		sent++
		if err == nil && ack.Sequence != a.Seq {
			again = append(again, fmt.Sprintf("%s (first acked at seq %d) published again at +%s: acked at seq %d duplicate=%v",
				a.ID, a.Seq, time.Since(a.At).Round(time.Millisecond), ack.Sequence, ack.Duplicate))
		}
	}
	return sent, again
}

// TSStats: message timestamps (Nats-Time-Stamp, the leader's wall clock) as
// read from the first replica read (the leader).
type TSStats struct {
	Read          int     `json:"read"`
	Backwards     int     `json:"backwards"`        // seqs whose timestamp is before the previous seq's
	MaxBackMs     float64 `json:"max_backwards_ms"` // the largest such step
	SkewedOver1s  int     `json:"skewed_over_1s"`   // stamped > 1 s after its ack or > 1 s before its attempt
	MaxAheadMs    float64 `json:"max_ahead_ms"`     // timestamp - ack time, largest
	MaxBehindMs   float64 `json:"max_behind_ms"`    // attempt start - timestamp, largest
	Unparseable   int     `json:"unparseable"`
	ExampleBackwd string  `json:"example_backwards,omitempty"`
}

func timestampStats(rd *replicaRead, acked map[string]ackRec) *TSStats {
	st := &TSStats{}
	if rd == nil {
		return st
	}
	var seqs []uint64
	for s := range rd.Msgs {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var prev time.Time
	var prevSeq uint64
	for _, s := range seqs {
		m := rd.Msgs[s]
		t, err := time.Parse(time.RFC3339Nano, m.TS)
		if err != nil {
			st.Unparseable++
			continue
		}
		st.Read++
		if !prev.IsZero() && t.Before(prev) {
			st.Backwards++
			if d := ms(prev.Sub(t)); d > st.MaxBackMs {
				st.MaxBackMs = d
				st.ExampleBackwd = fmt.Sprintf("seq %d %s, seq %d %s", prevSeq, prev.Format(time.RFC3339Nano), s, m.TS)
			}
		}
		prev, prevSeq = t, s
		// ahead: stamped after the client had its ack; behind: stamped
		// before the acknowledged attempt started (a first ack that is not
		// a duplicate, so that attempt is the one that stored it)
		if a, ok := acked[m.ID]; ok && a.Seq == s {
			ahead := t.Sub(a.At)
			behind := a.Attempt0.Sub(t)
			if a.Dup {
				behind = 0
			}
			if ahead > time.Second || behind > time.Second {
				st.SkewedOver1s++
			}
			if ahead > 0 && ms(ahead) > st.MaxAheadMs {
				st.MaxAheadMs = ms(ahead)
			}
			if behind > 0 && ms(behind) > st.MaxBehindMs {
				st.MaxBehindMs = ms(behind)
			}
		}
	}
	return st
}
