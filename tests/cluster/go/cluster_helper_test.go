// Package clustertest holds the nats.go cluster integration tests for Herald.
// Run (offline, GOPATH mode, from tests/cluster/go):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
//	  GOCACHE=$PWD/.gocache SERVER_KIND=nats-server go test -v -count=1 .
//
// SERVER_KIND=herald|nats-server selects the server, SERVER_BIN its binary.
// Every node gets exactly one seed route (node i seeds node i-1) so gossip
// must complete the mesh; tests wait (bounded) for num_routes == N-1.
package clustertest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serverBin() string {
	if b := os.Getenv("SERVER_BIN"); b != "" {
		return b
	}
	if os.Getenv("SERVER_KIND") == "herald" {
		wd, _ := os.Getwd()
		return filepath.Join(wd, "..", "..", "..", "bazel-bin", "server", "herald")
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "nats-server"
}

// Node is one cluster member process.
type Node struct {
	t                                         *testing.T
	Name                                      string
	ClientPort, HTTPPort, RoutePort, SeedPort int
	LogPath                                   string
	ServerID                                  string
	cmd                                       *exec.Cmd
	done                                      chan struct{}
}

func freePorts(t *testing.T, n int) []int {
	var ls []net.Listener
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func canConnect(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartCluster starts n nodes (node i seeds node i-1) and waits for the full mesh.
func StartCluster(t *testing.T, n int) []*Node {
	t.Helper()
	ports := freePorts(t, 3*n)
	dir := t.TempDir()
	nodes := make([]*Node, n)
	for i := 0; i < n; i++ {
		nd := &Node{t: t, Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[3*i], HTTPPort: ports[3*i+1], RoutePort: ports[3*i+2]}
		if i > 0 {
			nd.SeedPort = nodes[i-1].RoutePort
		}
		nd.LogPath = filepath.Join(dir, nd.Name+".log")
		nodes[i] = nd
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Stop()
		}
		if t.Failed() {
			for _, nd := range nodes {
				t.Logf("%s", nd.Log())
			}
		}
	})
	for _, nd := range nodes {
		nd.Start()
	}
	WaitMesh(t, nodes, 20*time.Second)
	return nodes
}

func (n *Node) URL() string        { return fmt.Sprintf("nats://127.0.0.1:%d", n.ClientPort) }
func (n *Node) ClientAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.ClientPort) }

// Start (re)starts the process on its ports and waits until client and
// monitoring ports answer.
func (n *Node) Start() {
	n.t.Helper()
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.ClientPort), "-m", strconv.Itoa(n.HTTPPort), "-n", n.Name,
		"--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.RoutePort), "--cluster_name", "C1"}
	if n.SeedPort != 0 {
		args = append(args, "--routes", fmt.Sprintf("nats://127.0.0.1:%d", n.SeedPort))
	}
	lf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	fmt.Fprintf(lf, "### %s %v\n", serverBin(), args)
	cmd := exec.Command(serverBin(), args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		n.t.Fatalf("start: %v", err)
	}
	lf.Close()
	n.cmd = cmd
	n.done = make(chan struct{})
	go func(c *exec.Cmd, d chan struct{}) { c.Wait(); close(d) }(cmd, n.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			n.t.Fatalf("%s exited during startup\n%s", n.Name, n.Log())
		default:
		}
		if canConnect(n.ClientPort) {
			var v struct {
				ServerID string `json:"server_id"`
			}
			if n.Mon("varz", &v) == nil && v.ServerID != "" {
				n.ServerID = v.ServerID
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Stop()
	n.t.Fatalf("%s did not start within 10s\n%s", n.Name, n.Log())
}

func (n *Node) signalAndWait(sig syscall.Signal, grace time.Duration) bool {
	if n.cmd == nil || n.cmd.Process == nil {
		return true
	}
	select {
	case <-n.done:
		return true
	default:
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
		return true
	case <-time.After(grace):
		return false
	}
}

// Stop: SIGTERM, SIGKILL after 5 s.
func (n *Node) Stop() {
	if !n.signalAndWait(syscall.SIGTERM, 5*time.Second) {
		n.signalAndWait(syscall.SIGKILL, 5*time.Second)
	}
	n.cmd = nil
}

// Kill: SIGKILL and wait for the exit (bounded).
func (n *Node) Kill() {
	if !n.signalAndWait(syscall.SIGKILL, 5*time.Second) {
		n.t.Fatalf("%s did not exit after SIGKILL", n.Name)
	}
	n.cmd = nil
}

func (n *Node) Log() string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "(no log)"
	}
	s := string(b)
	if len(s) > 15000 {
		s = "[...]\n" + s[len(s)-15000:]
	}
	return "----- " + n.Name + " log (" + n.LogPath + ") -----\n" + s + "----- end -----"
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func (n *Node) Mon(path string, out interface{}) error {
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/%s", n.HTTPPort, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type Route struct {
	RemoteID      string `json:"remote_id"`
	Subscriptions int    `json:"subscriptions"`
	InMsgs        int64  `json:"in_msgs"`
	OutMsgs       int64  `json:"out_msgs"`
}

type Routez struct {
	ServerID  string  `json:"server_id"`
	NumRoutes int     `json:"num_routes"`
	Routes    []Route `json:"routes"`
}

func (n *Node) Routez() (Routez, error) {
	var r Routez
	err := n.Mon("routez", &r)
	return r, err
}

// RouteSubs is the number of subscriptions n learned on its route to other (-1: no route).
func (n *Node) RouteSubs(other *Node) int {
	r, err := n.Routez()
	if err != nil {
		return -1
	}
	for _, x := range r.Routes {
		if x.RemoteID == other.ServerID {
			return x.Subscriptions
		}
	}
	return -1
}

func meshProblems(nodes []*Node) []string {
	var probs []string
	for _, n := range nodes {
		r, err := n.Routez()
		if err != nil {
			probs = append(probs, n.Name+": "+err.Error())
			continue
		}
		var want, have []string
		for _, o := range nodes {
			if o != n {
				want = append(want, o.ServerID)
			}
		}
		for _, x := range r.Routes {
			have = append(have, x.RemoteID)
		}
		sort.Strings(want)
		sort.Strings(have)
		if r.NumRoutes != len(nodes)-1 || strings.Join(want, ",") != strings.Join(have, ",") {
			probs = append(probs, fmt.Sprintf("%s: num_routes=%d remotes=%v", n.Name, r.NumRoutes, have))
		}
	}
	return probs
}

// WaitMesh: every node has exactly one route to each other node.
func WaitMesh(t *testing.T, nodes []*Node, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last []string
	for time.Now().Before(deadline) {
		if last = meshProblems(nodes); len(last) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("mesh incomplete after %v: %v", d, last)
}

// WithInterest snapshots the route-subscription count that each observer has
// for subNode, runs fn (which subscribes on subNode and flushes), then waits
// until every observer shows at least `added` more.
func WithInterest(t *testing.T, subNode *Node, observers []*Node, added int, fn func()) {
	t.Helper()
	base := map[*Node]int{}
	for _, o := range observers {
		base[o] = o.RouteSubs(subNode)
	}
	fn()
	for _, o := range observers {
		o := o
		waitFor(t, 10*time.Second, fmt.Sprintf("%s sees %d new subs from %s", o.Name, added, subNode.Name), func() bool {
			return o.RouteSubs(subNode) >= base[o]+added
		})
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}
