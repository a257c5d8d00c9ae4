package main

// Glue for --net netns and the partition and clock classes: which classes
// exist and which "mixed" uses, the set-up and removal of the namespaces,
// the per-node command wrapper, healing, and the figures in result.json and
// the summaries.

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"
)

func knownClasses() []string {
	out := append([]string(nil), allClasses...)
	out = append(out, partitionClasses...)
	out = append(out, netClasses...) // nemesis_net.go
	return append(out, clockClasses...)
}

// mixedClasses: process mode keeps its classes; herald's power-loss test
// build adds the disk classes (each step damages at most a minority, or
// cuts every node back to what it synced, and heals before the next step)
// and its Raft network shim's classes; netns adds partitions and (for
// herald: libfaketime cannot move a Go program's clock) clock faults.
func mixedClasses(netMode, kind string) []string {
	out := append([]string(nil), allClasses...)
	if *powerlossFlag && kind == "herald" {
		out = append(out, diskClasses...) // nemesis_disk.go
		out = append(out, netClasses...)  // the test build's network fault shim
	}
	if netMode != "netns" {
		return out
	}
	out = append(out, partitionClasses...)
	if kind == "herald" {
		out = append(out, clockClasses...)
	}
	return out
}

// setupNet: in netns mode, the namespaces (their addresses are the nodes'
// hosts) and an interrupt handler that kills the nodes and removes them.
func (r *Run) setupNet() ([]string, error) {
	if r.netMode != "netns" {
		return nil, nil
	}
	nn, err := NewNetNS(r.nodes, r.logf)
	if err != nil {
		return nil, err
	}
	r.nn = nn
	onInterrupt(func() {
		if r.c != nil {
			for _, n := range r.c.Nodes {
				n.mu.Lock()
				n.expectExit = true
				n.mu.Unlock()
				n.Resume()
				n.signalAndWait(syscall.SIGKILL, 5*time.Second)
			}
		}
		r.nn.Close()
	})
	return nn.IPs, nil
}

func (r *Run) closeNet() {
	if r.nn != nil {
		r.nn.Close()
	}
}

// setupNodes: each node's command runs inside its namespace and, when a
// clock class is selected, under libfaketime.
func (r *Run) setupNodes() error {
	clock := false
	for _, c := range r.classes {
		clock = clock || isClockClass(c)
	}
	if clock {
		cc, err := NewClockCtl(r.c)
		if err != nil {
			return err
		}
		r.clock = cc
	}
	if r.nn == nil && r.clock == nil {
		return nil
	}
	for _, n := range r.c.Nodes {
		n := n
		n.wrap = func(bin string, args []string) (string, []string) {
			if r.clock != nil {
				args = append(append(r.clock.Env(n.Name), bin), args...)
				bin = "env"
			}
			if r.nn != nil {
				bin, args = r.nn.Wrap(n.Index, bin, args)
			}
			return bin, args
		}
	}
	return nil
}

// healExtra: no DROP rule and every clock at +0.
func (r *Run) healExtra() {
	if r.nn != nil {
		if err := r.nn.HealAll(); err != nil {
			r.logf("heal partitions: %v", err)
		}
	}
	if r.clock != nil {
		r.clock.ResetAll()
	}
}

// addEventFigures: the event's figures under "<class>.<figure>".
func addEventFigures(res *Result, ev Event) {
	if ev.Skipped != "" || len(ev.Figures) == 0 {
		return
	}
	if res.Figures == nil {
		res.Figures = map[string][]float64{}
	}
	for k, v := range ev.Figures {
		key := ev.Class + "." + k
		res.Figures[key] = append(res.Figures[key], v)
	}
}

func printFigures(indent string, figs map[string][]float64) {
	var keys []string
	for k := range figs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := figs[k]
		switch {
		case strings.HasSuffix(k, "_ms"):
			fmt.Printf("%s%s: %s\n", indent, k, fmtMs(v))
		default:
			sum := 0.0
			var parts []string
			for _, x := range v {
				sum += x
				if len(parts) < 12 {
					parts = append(parts, fmt.Sprintf("%g", x))
				}
			}
			fmt.Printf("%s%s: sum %g over %d events [%s]\n", indent, k, sum, len(v), strings.Join(parts, " "))
		}
	}
}

func printExtra(r *Result) {
	if r.Net != "" && r.Net != "process" {
		fmt.Printf("   network: %s\n", r.Net)
	}
	printFigures("   ", r.Figures)
	if t := r.Timestamps; t != nil && t.Read > 0 {
		fmt.Printf("   timestamps (leader's read): %d read, %d go backwards (largest step %.0f ms%s), %d more than 1 s from the ack time (ahead up to %.0f ms, behind up to %.0f ms)\n",
			t.Read, t.Backwards, t.MaxBackMs, func() string {
				if t.ExampleBackwd != "" {
					return ": " + t.ExampleBackwd
				}
				return ""
			}(), t.SkewedOver1s, t.MaxAheadMs, t.MaxBehindMs)
	}
}
