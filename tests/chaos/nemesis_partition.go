package main

// Partition fault classes (--net netns): iptables DROP rules inside the
// nodes' namespaces (netns.go), held for twice the step's hold (4-12 s, so
// that election and route timeouts come into play), then healed.
//
//   part-leader    the stream leader cut from every other node
//   part-majority  a minority of (n-1)/2 nodes cut from the rest; seeded:
//                  the leader on the minority side (even pick) or not
//   part-bridge    two sides that do not see each other and one node that
//                  sees both; seeded: the leader is the bridge (even pick) or
//                  a follower is
//   part-oneway    one direction dropped; seeded (pick % 3): the leader hears
//                  one follower no more / a follower hears the leader no more
//                  / the leader hears nobody (everybody still hears it)
//
// While the fault holds, probes go every 50 ms through the nodes that cannot
// reach a quorum of the stream's replicas (a side holding fewer than 2 of
// the 3): none may be acknowledged (acked_without_quorum). Figures per
// event: gap_ms (fault to the first ack of a probe started after it, sent
// through the side that holds a quorum, or through any node for bridge and
// one-way), recover_ms (heal to the first ack of a probe through a node that
// was on the side without a quorum), max_ack_gap_ms (the longest time with
// no ack at all, publishers and probes, from the fault to the heal), and
// leader_changed (0/1).

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

var partitionClasses = []string{"part-leader", "part-majority", "part-bridge", "part-oneway"}

func isPartitionClass(c string) bool {
	for _, p := range partitionClasses {
		if p == c {
			return true
		}
	}
	return false
}

// doExtra: the classes of this file and clock.go. Returns the heal time and
// whether the class is one of them.
func (nm *Nemesis) doExtra(ev *Event, s Step, leader string, followers []string) (time.Time, bool) {
	switch {
	case isPartitionClass(s.Class):
		if nm.nn == nil {
			ev.Skipped = "partitions need --net netns"
			return time.Time{}, true
		}
		return nm.doPartition(ev, s, leader, followers), true
	case isClockClass(s.Class):
		if nm.clock == nil {
			ev.Skipped = "clock faults need the nodes started under libfaketime"
			return time.Time{}, true
		}
		if nm.c.Kind == "nats-server" {
			// the Go runtime reads the clock through the vDSO, not libc
			ev.Skipped = "libfaketime does not move a Go program's clock"
			return time.Time{}, true
		}
		return nm.doClock(ev, s, leader, followers), true
	}
	return time.Time{}, false
}

func (nm *Nemesis) idx(name string) int { return nm.c.ByName(name).Index }

func names(c *Cluster, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, c.Nodes[i].Name)
	}
	return out
}

func (nm *Nemesis) doPartition(ev *Event, s Step, leader string, followers []string) time.Time {
	n := len(nm.c.Nodes)
	L := nm.idx(leader)
	rng := rand.New(rand.NewSource(int64(s.Pick)))
	var others []int // every node but the leader, seeded order
	for i := 0; i < n; i++ {
		if i != L {
			others = append(others, i)
		}
	}
	rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	var fIdx []int
	for _, f := range followers {
		fIdx = append(fIdx, nm.idx(f))
	}
	sort.Ints(fIdx)
	replica := map[int]bool{L: true}
	for _, f := range fIdx {
		replica[f] = true
	}
	var apply []func() error
	var sides [][]int // components; nil for bridge and one-way
	switch s.Class {
	case "part-leader":
		sides = [][]int{{L}, others}
	case "part-majority":
		k := (n - 1) / 2
		var minority, majority []int
		if s.Pick%2 == 0 {
			minority = append([]int{L}, others[:k-1]...)
			majority = others[k-1:]
		} else {
			minority = others[:k]
			majority = append([]int{L}, others[k:]...)
		}
		sides = [][]int{minority, majority}
	case "part-bridge":
		var bridge int
		var rest []int
		if s.Pick%2 == 0 || len(fIdx) == 0 {
			bridge, rest = L, others
		} else {
			bridge = fIdx[s.Pick/2%len(fIdx)]
			for i := 0; i < n; i++ {
				if i != bridge {
					rest = append(rest, i)
				}
			}
			rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		}
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		ev.Targets = []string{fmt.Sprintf("bridge %s sees %v and %v, which do not see each other", nm.c.Nodes[bridge].Name, names(nm.c, a), names(nm.c, b))}
		for _, x := range a {
			for _, y := range b {
				x, y := x, y
				apply = append(apply, func() error { return nm.nn.Cut(x, y) })
			}
		}
	case "part-oneway":
		if len(fIdx) == 0 {
			ev.Skipped = "no follower listed"
			return time.Time{}
		}
		f := fIdx[s.Pick/3%len(fIdx)]
		var pairs [][2]int // (at, from)
		switch s.Pick % 3 {
		case 0:
			pairs = [][2]int{{L, f}}
		case 1:
			pairs = [][2]int{{f, L}}
		default:
			for _, o := range others {
				pairs = append(pairs, [2]int{L, o})
			}
		}
		for _, p := range pairs {
			p := p
			at, from := nm.c.Nodes[p[0]].Name, nm.c.Nodes[p[1]].Name
			ev.Targets = append(ev.Targets, fmt.Sprintf("%s can send to %s, packets from %s to %s dropped", at, from, from, at))
			apply = append(apply, func() error { return nm.nn.Drop(p[0], p[1]) })
		}
	}
	// Nodes that cannot reach a quorum of the stream's replicas, and those
	// on the side that can.
	var noQuorum, quorumSide []int
	if sides != nil {
		for si, side := range sides {
			reps := 0
			for _, x := range side {
				if replica[x] {
					reps++
				}
			}
			if reps >= len(replica)/2+1 {
				quorumSide = append(quorumSide, side...)
			} else {
				noQuorum = append(noQuorum, side...)
			}
			ev.Targets = append(ev.Targets, fmt.Sprintf("side %d %v (%d of %d replicas)", si+1, names(nm.c, side), reps, len(replica)))
			for _, other := range sides[si+1:] {
				for _, x := range side {
					for _, y := range other {
						x, y := x, y
						apply = append(apply, func() error { return nm.nn.Cut(x, y) })
					}
				}
			}
		}
	}
	hold := 2 * s.Hold
	// the fault
	for _, f := range apply {
		if err := f(); err != nil {
			ev.Errors = append(ev.Errors, "partition: "+err.Error())
		}
	}
	at := time.Now()
	ev.HoldMs = ms(hold)
	for _, node := range nm.c.Nodes {
		node.mark(fmt.Sprintf("partition %s: %s; DROP rules %v", s.Class, strings.Join(ev.Targets, "; "), nm.nn.Rules()))
	}
	allowed := func(set []int) func(int) bool {
		m := map[int]bool{}
		for _, x := range set {
			m[x] = true
		}
		return func(i int) bool { return len(set) == 0 || m[i] }
	}
	gap := make(chan float64, 1)
	go func() {
		if d, ok := nm.w.ProbeVia(at, 60*time.Second, allowed(quorumSide), "probe"); ok {
			gap <- ms(d)
		} else {
			gap <- -1
		}
	}()
	var stopMinority atomic.Bool
	var mwg sync.WaitGroup
	if len(noQuorum) > 0 {
		mwg.Add(1)
		go func() {
			defer mwg.Done()
			nm.w.MinorityProbes(noQuorum, &stopMinority)
		}()
	}
	time.Sleep(hold)
	heal := time.Now()
	stopMinority.Store(true)
	if err := nm.nn.HealAll(); err != nil {
		ev.Errors = append(ev.Errors, "heal: "+err.Error())
	}
	for _, node := range nm.c.Nodes {
		node.mark("partition healed (INPUT flushed everywhere)")
	}
	mwg.Wait()
	for _, a := range nm.w.h.acksStartedIn(at, heal) {
		if strings.HasPrefix(a.ID, "mprobe-") {
			ev.AckedWithoutQuorum = append(ev.AckedWithoutQuorum, fmt.Sprintf("%s seq %d acked +%.0fms into the partition through a node without a quorum", a.ID, a.Seq, ms(a.At.Sub(at))))
		}
	}
	ev.Figures = map[string]float64{}
	ev.GapMs = <-gap
	ev.Figures["gap_ms"] = ev.GapMs
	ev.Figures["max_ack_gap_ms"] = nm.w.h.maxAckGap(at, heal)
	if len(noQuorum) > 0 {
		if d, ok := nm.w.ProbeVia(heal, 60*time.Second, allowed(noQuorum), "probe"); ok {
			ev.RecoverMs = ms(d)
		} else {
			ev.RecoverMs = -1
		}
		ev.Figures["recover_ms"] = ev.RecoverMs
	}
	if nl, _, err := nm.a.Leader(10 * time.Second); err == nil {
		ev.Figures["leader_changed"] = 0
		if nl != leader {
			ev.Figures["leader_changed"] = 1
		}
	}
	return heal
}

// ProbeVia: as Probe, through the nodes allowed(i) only.
func (w *Workload) ProbeVia(since time.Time, limit time.Duration, allowed func(int) bool, prefix string) (time.Duration, bool) {
	got := make(chan time.Time, 1)
	deadline := since.Add(limit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		k := w.probeN.Add(1)
		id := fmt.Sprintf("%s-%06d", prefix, k)
		var js nats.JetStreamContext
		for i := range w.c.Nodes {
			j := (int(k) + i) % len(w.c.Nodes)
			if n := w.c.Nodes[j]; allowed(j) && n.Running() && !n.Paused() && w.probeNC[j].IsConnected() {
				js = w.probeJS[j]
				break
			}
		}
		if js != nil {
			go func(id string, js nats.JetStreamContext) {
				if w.publishOnce(id, js) {
					select {
					case got <- time.Now():
					default:
					}
				}
			}(id, js)
		}
		select {
		case t := <-got:
			return t.Sub(since), true
		case <-tick.C:
		}
	}
	return 0, false
}

func (w *Workload) publishOnce(id string, js nats.JetStreamContext) bool {
	m := nats.NewMsg(subjPrefix + "probe")
	m.Data = []byte(payloadFor(id))
	m.Header.Set(nats.MsgIdHdr, id)
	w.h.attempt(id)
	start := time.Now()
	ack, err := js.PublishMsg(m, nats.AckWait(2*time.Second))
	w.h.result(id, start, ack, err)
	return err == nil
}

// MinorityProbes: a fresh id every 50 ms through the given nodes in turn
// (ids mprobe-N), until stop; waits for the outstanding ones (≤ 2 s each).
func (w *Workload) MinorityProbes(nodes []int, stop *atomic.Bool) {
	var wg sync.WaitGroup
	for i := 0; !stop.Load() && i < 100000; i++ {
		j := nodes[i%len(nodes)]
		if w.c.Nodes[j].Running() && !w.c.Nodes[j].Paused() {
			k := w.probeN.Add(1)
			wg.Add(1)
			go func(id string, js nats.JetStreamContext) {
				defer wg.Done()
				w.publishOnce(id, js)
			}(fmt.Sprintf("mprobe-%06d", k), w.probeJS[j])
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitGroup(&wg, 10*time.Second)
}

// maxAckGap: the longest interval in [from, to] without any ack received.
func (h *History) maxAckGap(from, to time.Time) float64 {
	h.mu.Lock()
	var ts []time.Time
	for i := len(h.acks) - 1; i >= 0; i-- {
		a := h.acks[i]
		if a.At.Before(from) {
			break
		}
		if !a.At.After(to) {
			ts = append(ts, a.At)
		}
	}
	h.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	prev, worst := from, time.Duration(0)
	for _, t := range append(ts, to) {
		if d := t.Sub(prev); d > worst {
			worst = d
		}
		prev = t
	}
	return ms(worst)
}
