package main

// Network namespaces (--net netns): each node in its own namespace, joined
// by veth pairs to a bridge in the root namespace; the root namespace has an
// address on the bridge too, so the harness's clients reach every node
// across it. Addresses: 10.77.X.0/24 (X picked so that no interface on this
// machine already has an address there), node i at 10.77.X.i, the root
// namespace at 10.77.X.254. Names carry the harness's prefix and the PID of
// the run that made them (namespace hcx-<pid>-nI, bridge hcxb<pid>, host
// side of the veth hcx<pid>nI), so a later run sweeps what a dead run left
// behind and never touches a live run's.
//
// Partitions are iptables DROP rules on INPUT inside the namespaces:
// drop(at, from) discards every packet from `from` arriving at `at` (routes,
// the Raft gRPC transport, anything). A full cut between A and B is
// drop(A,B)+drop(B,A); a one-way fault is one of the two. Healing flushes
// INPUT in every namespace. Client traffic from the root namespace is never
// dropped.

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const nsPrefix = "hcx"

type NetNS struct {
	pid    int
	Bridge string
	Subnet string // "10.77.X"
	HostIP string
	NS     []string // per node
	IPs    []string // per node
	veths  []string
	logf   func(string, ...interface{})

	mu     sync.Mutex
	drops  map[[2]int]bool // (at, from) -> rule in place
	closed bool
}

func runCmd(timeout time.Duration, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
		}
		return out.String(), nil
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
}

func ipCmd(args ...string) error {
	_, err := runCmd(10*time.Second, "ip", args...)
	return err
}

func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

var (
	staleNSRe  = regexp.MustCompile(`^` + nsPrefix + `-(\d+)-n\d+$`)
	staleBrRe  = regexp.MustCompile(`^` + nsPrefix + `b(\d+)$`)
	staleVethR = regexp.MustCompile(`^` + nsPrefix + `(\d+)n\d+$`)
)

// SweepStale removes namespaces, bridges and veths with the harness's prefix
// whose run (the PID in the name) is gone.
func SweepStale(logf func(string, ...interface{})) {
	out, _ := runCmd(10*time.Second, "ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if m := staleNSRe.FindStringSubmatch(f[0]); m != nil {
			if pid, _ := strconv.Atoi(m[1]); !pidAlive(pid) {
				logf("netns: removing stale namespace %s", f[0])
				if err := ipCmd("netns", "del", f[0]); err != nil {
					logf("netns: %v", err)
				}
			}
		}
	}
	out, _ = runCmd(10*time.Second, "ip", "-o", "link", "show")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]
		var m []string
		if m = staleBrRe.FindStringSubmatch(name); m == nil {
			m = staleVethR.FindStringSubmatch(name)
		}
		if m != nil {
			if pid, _ := strconv.Atoi(m[1]); !pidAlive(pid) {
				logf("netns: removing stale link %s", name)
				if err := ipCmd("link", "del", name); err != nil {
					logf("netns: %v", err)
				}
			}
		}
	}
}

// pickSubnet: 10.77.X with no address of this machine in it.
func pickSubnet(pid int) (string, error) {
	out, err := runCmd(10*time.Second, "ip", "-o", "-4", "addr", "show")
	if err != nil {
		return "", err
	}
	for i := 0; i < 250; i++ {
		x := 1 + (pid+i)%250
		s := fmt.Sprintf("10.77.%d", x)
		if !strings.Contains(out, " "+s+".") {
			return s, nil
		}
	}
	return "", fmt.Errorf("no free 10.77.X.0/24 subnet")
}

// NewNetNS creates n namespaces, a bridge and the veth pairs. On error
// everything made so far is removed.
func NewNetNS(n int, logf func(string, ...interface{})) (*NetNS, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("--net netns needs root")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("--net netns needs %s (apt-get install iproute2 iptables; scripts/setup.sh installs them)", tool)
		}
	}
	SweepStale(logf)
	pid := os.Getpid()
	subnet, err := pickSubnet(pid)
	if err != nil {
		return nil, err
	}
	nn := &NetNS{pid: pid, Bridge: fmt.Sprintf("%sb%d", nsPrefix, pid), Subnet: subnet, HostIP: subnet + ".254",
		logf: logf, drops: map[[2]int]bool{}}
	fail := func(err error) (*NetNS, error) {
		nn.Close()
		return nil, err
	}
	if err := ipCmd("link", "add", nn.Bridge, "type", "bridge"); err != nil {
		return fail(err)
	}
	for _, a := range [][]string{
		{"addr", "add", nn.HostIP + "/24", "dev", nn.Bridge},
		{"link", "set", nn.Bridge, "up"},
	} {
		if err := ipCmd(a...); err != nil {
			return fail(err)
		}
	}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("%s-%d-n%d", nsPrefix, pid, i+1)
		veth := fmt.Sprintf("%s%dn%d", nsPrefix, pid, i+1)
		ip := fmt.Sprintf("%s.%d", subnet, i+1)
		if err := ipCmd("netns", "add", ns); err != nil {
			return fail(err)
		}
		nn.NS, nn.IPs, nn.veths = append(nn.NS, ns), append(nn.IPs, ip), append(nn.veths, veth)
		for _, a := range [][]string{
			{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
			{"link", "set", veth, "master", nn.Bridge, "up"},
			{"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", ns, "link", "set", "lo", "up"},
		} {
			if err := ipCmd(a...); err != nil {
				return fail(err)
			}
		}
		// start from an empty INPUT chain (a fresh namespace has one)
		if err := nn.ipt(i, "-F", "INPUT"); err != nil {
			return fail(err)
		}
	}
	logf("netns: bridge %s %s.0/24 (root ns %s), namespaces %v, nodes %v", nn.Bridge, subnet, nn.HostIP, nn.NS, nn.IPs)
	return nn, nil
}

func (nn *NetNS) ipt(node int, args ...string) error {
	a := append([]string{"netns", "exec", nn.NS[node], "iptables", "-w", "5"}, args...)
	_, err := runCmd(10*time.Second, "ip", a...)
	return err
}

// Drop: packets from node `from` arriving at node `at` are discarded.
func (nn *NetNS) Drop(at, from int) error {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if nn.drops[[2]int{at, from}] {
		return nil
	}
	if err := nn.ipt(at, "-A", "INPUT", "-s", nn.IPs[from], "-j", "DROP"); err != nil {
		return err
	}
	nn.drops[[2]int{at, from}] = true
	return nil
}

// Cut: no packet between a and b in either direction.
func (nn *NetNS) Cut(a, b int) error {
	if err := nn.Drop(a, b); err != nil {
		return err
	}
	return nn.Drop(b, a)
}

// HealAll flushes every namespace's INPUT chain.
func (nn *NetNS) HealAll() error {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	var first error
	for i := range nn.NS {
		if err := nn.ipt(i, "-F", "INPUT"); err != nil && first == nil {
			first = err
		}
	}
	nn.drops = map[[2]int]bool{}
	return first
}

// Rules: the DROP rules in place, "nI<-nJ" (at nI, packets from nJ).
func (nn *NetNS) Rules() []string {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	var out []string
	for k := range nn.drops {
		out = append(out, fmt.Sprintf("n%d<-n%d", k[0]+1, k[1]+1))
	}
	return out
}

// Wrap: the command that runs bin inside node i's namespace.
func (nn *NetNS) Wrap(i int, bin string, args []string) (string, []string) {
	return "ip", append([]string{"netns", "exec", nn.NS[i], bin}, args...)
}

// Close removes the namespaces (with their veths and rules) and the bridge.
// The processes inside must be gone first (a namespace lives on while a
// process is in it).
func (nn *NetNS) Close() {
	if nn == nil {
		return
	}
	nn.mu.Lock()
	if nn.closed {
		nn.mu.Unlock()
		return
	}
	nn.closed = true
	nn.mu.Unlock()
	for i, ns := range nn.NS {
		if err := ipCmd("netns", "del", ns); err != nil {
			nn.logf("netns: %v", err)
		}
		// normally gone with its peer; remove it if the namespace kept it
		if _, err := os.Stat("/sys/class/net/" + nn.veths[i]); err == nil {
			ipCmd("link", "del", nn.veths[i])
		}
	}
	if err := ipCmd("link", "del", nn.Bridge); err != nil {
		nn.logf("netns: %v", err)
	}
	nn.logf("netns: removed %v and %s", nn.NS, nn.Bridge)
}

// onInterrupt runs f once on SIGINT/SIGTERM/SIGHUP and exits with 130, so an
// interrupted run still kills its nodes and removes its namespaces.
func onInterrupt(f func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "chaos: %v: cleaning up\n", s)
		f()
		os.Exit(130)
	}()
}
