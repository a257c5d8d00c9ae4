package main

// Network faults between Raft peers (issue 12): this kernel has no tc netem,
// so loss, duplication, delay and reordering come from the fault shim in
// Herald's Raft transport (raft/transport/fault_transport.h), compiled only
// into the test build (--powerloss: //server:herald_powerloss). Each node
// polls <node dir>/netfaults (HERALD_NET_FAULTS); the classes write it and
// empty it again to heal:
//
//   net-flaky   every node: drop 20%, duplicate 5%, reorder 20%, delay 0-20 ms
//   net-slow    every node: delay 50-200 ms, nothing lost
//   net-leader  the stream leader's outgoing Raft traffic only: drop 60%,
//               duplicate 10%, reorder 30%, delay 0-50 ms
//
// Client traffic is untouched (the shim sits in the Raft transport only).

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

var netClasses = []string{"net-flaky", "net-slow", "net-leader"}

func isNetClass(c string) bool {
	for _, n := range netClasses {
		if n == c {
			return true
		}
	}
	return false
}

func netFaultsPath(n *Node) string { return filepath.Join(n.Dir, "netfaults") }

func writeNetFaults(n *Node, spec string) error {
	return os.WriteFile(netFaultsPath(n), []byte(spec+"\n"), 0o644)
}

// doNet runs a network fault step; false if s.Class is not one.
func (nm *Nemesis) doNet(s Step, leader string, ev *Event, heal *time.Time) bool {
	if !isNetClass(s.Class) {
		return false
	}
	if !*powerlossFlag || nm.c.Kind != "herald" {
		ev.Skipped = "needs --powerloss (herald's test build carries the network fault shim)"
		return true
	}
	errf := func(err error) {
		if err != nil {
			ev.Errors = append(ev.Errors, err.Error())
		}
	}
	targets := nm.c.Nodes
	spec := ""
	switch s.Class {
	case "net-flaky":
		spec = "drop=0.2 dup=0.05 reorder=0.2 delay=0-20"
	case "net-slow":
		spec = "delay=50-200"
	case "net-leader":
		spec = "drop=0.6 dup=0.1 reorder=0.3 delay=0-50"
		targets = []*Node{nm.c.ByName(leader)}
	}
	for _, n := range targets {
		ev.Targets = append(ev.Targets, fmt.Sprintf("%s(%s)", n.Name, spec))
		errf(writeNetFaults(n, spec))
		n.mark("net faults: " + spec)
	}
	time.Sleep(s.Hold)
	*heal = time.Now()
	for _, n := range targets {
		errf(writeNetFaults(n, ""))
		n.mark("net faults healed")
	}
	ev.RecoverMs = <-nm.probeAsync(*heal, 60*time.Second)
	return true
}
