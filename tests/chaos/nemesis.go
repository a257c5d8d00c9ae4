package main

// Nemesis: a seeded schedule of process faults, each held for a few seconds
// and then healed (SIGKILL of the stream leader, of a follower, of a
// majority of the stream's replicas, of every node; SIGSTOP/SIGCONT of the
// leader), and the admin connections used to find the stream leader.

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

var allClasses = []string{"kill-leader", "kill-follower", "kill-majority", "kill-all", "pause-leader"}

// Admin: one connection per node (so a paused node does not hold up a
// request: each try goes to a node that is running and not paused).
type Admin struct {
	c     *Cluster
	mu    sync.Mutex
	conns map[string]*nats.Conn
	jss   map[string]nats.JetStreamContext
	rr    int
}

func NewAdmin(c *Cluster) (*Admin, error) {
	a := &Admin{c: c, conns: map[string]*nats.Conn{}, jss: map[string]nats.JetStreamContext{}}
	for _, n := range c.Nodes {
		nc, err := nats.Connect(n.URL(), append(clientOpts("admin-"+n.Name), pinURL(n.URL()))...)
		if err != nil {
			return nil, err
		}
		js, err := nc.JetStream(nats.MaxWait(2 * time.Second))
		if err != nil {
			return nil, err
		}
		a.conns[n.Name], a.jss[n.Name] = nc, js
	}
	return a, nil
}

func (a *Admin) Close() {
	for _, nc := range a.conns {
		nc.Close()
	}
}

// live: nodes running, not paused, starting at a rotating offset.
func (a *Admin) live() []*Node {
	a.mu.Lock()
	a.rr++
	off := a.rr
	a.mu.Unlock()
	var out []*Node
	for i := range a.c.Nodes {
		n := a.c.Nodes[(off+i)%len(a.c.Nodes)]
		if n.Running() && !n.Paused() && a.conns[n.Name].IsConnected() {
			out = append(out, n)
		}
	}
	return out
}

func (a *Admin) JS() nats.JetStreamContext {
	if l := a.live(); len(l) > 0 {
		return a.jss[l[0].Name]
	}
	return a.jss[a.c.Nodes[0].Name]
}

func (a *Admin) StreamInfo() (*nats.StreamInfo, error) {
	var last error = fmt.Errorf("no live node")
	for _, n := range a.live() {
		si, err := a.jss[n.Name].StreamInfo(streamName, nats.MaxWait(2*time.Second))
		if err == nil {
			return si, nil
		}
		last = fmt.Errorf("via %s: %v", n.Name, err)
	}
	return nil, last
}

// Leader and replica names of the stream (leader first), waiting up to d.
func (a *Admin) Leader(d time.Duration) (string, []string, error) {
	var leader string
	var peers []string
	err := retry(d, func() error {
		si, err := a.StreamInfo()
		if err != nil {
			return err
		}
		if si.Cluster == nil || si.Cluster.Leader == "" {
			return fmt.Errorf("no leader")
		}
		leader = si.Cluster.Leader
		peers = []string{leader}
		for _, r := range si.Cluster.Replicas {
			peers = append(peers, r.Name)
		}
		return nil
	})
	return leader, peers, err
}

// Healthy: a leader, replicas-1 followers, all current and online.
func (a *Admin) Healthy(replicas int) (*nats.StreamInfo, error) {
	si, err := a.StreamInfo()
	if err != nil {
		return nil, err
	}
	if si.Cluster == nil || si.Cluster.Leader == "" {
		return si, fmt.Errorf("no leader")
	}
	if len(si.Cluster.Replicas) != replicas-1 {
		return si, fmt.Errorf("%d replicas listed", len(si.Cluster.Replicas))
	}
	for _, r := range si.Cluster.Replicas {
		if !r.Current || r.Offline {
			return si, fmt.Errorf("replica %s current=%v offline=%v lag=%d", r.Name, r.Current, r.Offline, r.Lag)
		}
	}
	return si, nil
}

func (a *Admin) WaitHealthy(replicas int, d time.Duration) (*nats.StreamInfo, error) {
	var si *nats.StreamInfo
	err := retry(d, func() error {
		var err error
		si, err = a.Healthy(replicas)
		return err
	})
	return si, err
}

type Step struct {
	Class string        `json:"class"`
	Hold  time.Duration `json:"-"`
	Quiet time.Duration `json:"-"`
	Pick  int           `json:"-"`
}

func (s Step) String() string {
	return fmt.Sprintf("%s hold=%.1fs quiet=%.1fs pick=%d", s.Class, s.Hold.Seconds(), s.Quiet.Seconds(), s.Pick)
}

// makeSchedule: a seeded list of faults long enough for `duration`. With a
// single class every step is that class; with several, the first
// len(classes) steps are each class once (shuffled), then random picks.
func makeSchedule(rng *rand.Rand, classes []string, duration time.Duration) []Step {
	var out []Step
	var est time.Duration
	order := append([]string(nil), classes...)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := 0; est < duration && i < 10000; i++ {
		cl := ""
		if i < len(order) {
			cl = order[i]
		} else {
			cl = classes[rng.Intn(len(classes))]
		}
		s := Step{Class: cl, Hold: time.Duration(2000+rng.Intn(4000)) * time.Millisecond,
			Quiet: time.Duration(2000+rng.Intn(4000)) * time.Millisecond, Pick: rng.Intn(1 << 20)}
		out = append(out, s)
		est += s.Hold + s.Quiet + 3*time.Second // + heal and health wait (estimate)
	}
	return out
}

type Event struct {
	N       int      `json:"n"`
	Class   string   `json:"class"`
	Targets []string `json:"targets,omitempty"`
	StartS  float64  `json:"start_s"` // seconds since workload start
	HoldMs  float64  `json:"hold_ms"`
	// Publish gap: fault start (kill / stop) to the first ack of a probe
	// started after it. -1: no ack within the bound.
	GapMs float64 `json:"gap_ms,omitempty"`
	// kill-all: restart of all nodes to the first ack; kill-majority: heal to the first ack.
	RecoverMs float64 `json:"recover_ms,omitempty"`
	// heal to STREAM.INFO showing every replica current.
	HealthyMs          float64     `json:"healthy_ms"`
	AckedWithoutQuorum []string    `json:"acked_without_quorum,omitempty"`
	Disk               []DiskEvent `json:"disk,omitempty"` // nemesis_disk.go
	Skipped            string      `json:"skipped,omitempty"`
	Errors             []string    `json:"errors,omitempty"`
	// Figures of the partition and clock classes (nemesis_partition.go, clock.go).
	Figures map[string]float64 `json:"figures,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type Nemesis struct {
	c        *Cluster
	a        *Admin
	w        *Workload
	replicas int
	t0       time.Time
	logf     func(string, ...interface{})
	nn       *NetNS    // --net netns
	clock    *ClockCtl // clock classes
}

func (nm *Nemesis) Run(steps []Step, until time.Time) []Event {
	var evs []Event
	for i, s := range steps {
		if time.Now().Add(s.Hold).After(until) {
			break
		}
		ev := nm.do(i+1, s)
		nm.logf("fault %d %s targets=%v gap=%.0fms recover=%.0fms healthy=%.0fms %s %s", ev.N, ev.Class, ev.Targets,
			ev.GapMs, ev.RecoverMs, ev.HealthyMs, ev.Skipped, strings.Join(ev.Errors, "; "))
		evs = append(evs, ev)
		if time.Now().Add(s.Quiet).After(until) {
			break
		}
		time.Sleep(s.Quiet)
	}
	return evs
}

func (nm *Nemesis) probeAsync(since time.Time, limit time.Duration) <-chan float64 {
	ch := make(chan float64, 1)
	go func() {
		d, ok := nm.w.Probe(since, limit)
		if ok {
			ch <- ms(d)
		} else {
			ch <- -1
		}
	}()
	return ch
}

func (nm *Nemesis) do(n int, s Step) Event {
	ev := Event{N: n, Class: s.Class, StartS: time.Since(nm.t0).Seconds(), HoldMs: ms(s.Hold)}
	errf := func(err error) {
		if err != nil {
			ev.Errors = append(ev.Errors, err.Error())
		}
	}
	leader, peers, err := nm.a.Leader(15 * time.Second)
	if err != nil {
		ev.Skipped = "no stream leader: " + err.Error()
		return ev
	}
	var followers []string
	for _, p := range peers[1:] {
		followers = append(followers, p)
	}
	var heal time.Time
	switch s.Class {
	case "kill-leader", "kill-follower":
		target := leader
		if s.Class == "kill-follower" {
			if len(followers) == 0 {
				ev.Skipped = "no follower listed"
				return ev
			}
			target = followers[s.Pick%len(followers)]
		}
		node := nm.c.ByName(target)
		ev.Targets = []string{fmt.Sprintf("%s(pid %d)", target, node.PID())}
		at := time.Now()
		errf(node.Kill())
		gap := nm.probeAsync(at, 60*time.Second)
		time.Sleep(s.Hold)
		heal = time.Now()
		errf(node.Start())
		ev.GapMs = <-gap
	case "kill-majority":
		if len(followers) == 0 {
			ev.Skipped = "no follower listed"
			return ev
		}
		victims := []string{leader, followers[s.Pick%len(followers)]}
		for _, v := range victims {
			node := nm.c.ByName(v)
			ev.Targets = append(ev.Targets, fmt.Sprintf("%s(pid %d)", v, node.PID()))
			errf(node.Kill())
		}
		killed := time.Now()
		// probes during the hold must all fail
		gap := nm.probeAsync(killed, s.Hold-100*time.Millisecond)
		time.Sleep(s.Hold)
		heal = time.Now()
		if g := <-gap; g >= 0 {
			ev.Errors = append(ev.Errors, fmt.Sprintf("probe acknowledged %.0f ms into the majority kill", g))
		}
		for _, a := range nm.w.h.acksStartedIn(killed, heal) {
			ev.AckedWithoutQuorum = append(ev.AckedWithoutQuorum, fmt.Sprintf("%s seq %d at +%.0fms", a.ID, a.Seq, ms(a.At.Sub(killed))))
		}
		for _, v := range victims {
			errf(nm.c.ByName(v).Start())
		}
		ev.RecoverMs = <-nm.probeAsync(heal, 90*time.Second)
	case "kill-all":
		nm.killAll(&ev, errf)
		killed := time.Now()
		time.Sleep(s.Hold)
		heal = time.Now()
		errf(nm.c.StartAll())
		for _, a := range nm.w.h.acksStartedIn(killed, heal) {
			ev.AckedWithoutQuorum = append(ev.AckedWithoutQuorum, fmt.Sprintf("%s seq %d while all nodes were down", a.ID, a.Seq))
		}
		ev.RecoverMs = <-nm.probeAsync(heal, 120*time.Second)
	case "pause-leader":
		node := nm.c.ByName(leader)
		ev.Targets = []string{fmt.Sprintf("%s(pid %d)", leader, node.PID())}
		at := time.Now()
		node.Pause()
		gap := nm.probeAsync(at, 60*time.Second)
		time.Sleep(s.Hold)
		heal = time.Now()
		node.Resume()
		ev.GapMs = <-gap
	default:
		if !nm.doDisk(s, leader, peers, &ev, &heal) && !nm.doNet(s, leader, &ev, &heal) { // nemesis_disk.go, nemesis_net.go
			var handled bool
			if heal, handled = nm.doExtra(&ev, s, leader, followers); !handled {
				ev.Skipped = "unknown class"
			}
		}
		if ev.Skipped != "" {
			return ev
		}
	}
	if _, err := nm.a.WaitHealthy(nm.replicas, 90*time.Second); err != nil {
		ev.Errors = append(ev.Errors, "not healthy 90s after heal: "+err.Error())
		ev.HealthyMs = -1
	} else {
		ev.HealthyMs = ms(time.Since(heal))
	}
	return ev
}

// killAll SIGKILLs every node at once (kill-all, powerloss-all), naming
// them in ev.Targets; errors go to errf.
func (nm *Nemesis) killAll(ev *Event, errf func(error)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, node := range nm.c.Nodes {
		ev.Targets = append(ev.Targets, fmt.Sprintf("%s(pid %d)", node.Name, node.PID()))
		wg.Add(1)
		go func(node *Node) {
			defer wg.Done()
			err := node.Kill()
			mu.Lock()
			errf(err)
			mu.Unlock()
		}(node)
	}
	wg.Wait()
}
