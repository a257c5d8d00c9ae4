// Package jetstreamtest holds the nats.go JetStream durability tests for
// Herald: a 3-node JetStream cluster of the server under test, an R3 stream,
// concurrent publishers with Nats-Msg-Id, SIGKILL/SIGTERM of the stream
// leader and of every node, and checks that every acknowledged message is in
// the stream, once, on every replica.
//
// Run (offline, GOPATH mode, from tests/jetstream/go):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
//	  GOCACHE=$PWD/.gocache SERVER_KIND=nats-server go test -v -count=1 .
//
// SERVER_KIND=herald|nats-server selects the server, SERVER_BIN its binary.
// Every node is started from a config file (server_name, listen, jetstream
// store_dir, cluster with routes to all three nodes including itself) on free
// 127.0.0.1 ports and stopped by PID. All waits are bounded.
package jetstreamtest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func serverKind() string {
	if k := os.Getenv("SERVER_KIND"); k != "" {
		return k
	}
	return "nats-server"
}

func serverBin() string {
	if b := os.Getenv("SERVER_BIN"); b != "" {
		return b
	}
	if serverKind() == "herald" {
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
	t                      *testing.T
	Name                   string
	ClientPort, RoutePort  int
	Dir, ConfPath, LogPath string
	cmd                    *exec.Cmd
	done                   chan struct{}
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

// Cluster is three JetStream nodes.
type Cluster struct {
	t     *testing.T
	Nodes []*Node
}

// StartCluster3 writes a config per node and starts all three (at once).
func StartCluster3(t *testing.T) *Cluster {
	t.Helper()
	return StartCluster3With(t, "")
}

// StartCluster3With adds `herald` to each node's jetstream block when the
// server is herald (Herald's own settings; nats-server refuses unknown keys).
func StartCluster3With(t *testing.T, herald string) *Cluster {
	t.Helper()
	jsExtra := ""
	if serverKind() == "herald" && herald != "" {
		jsExtra = ", " + herald
	}
	ports := freePorts(t, 6)
	dir := t.TempDir()
	var routes []string
	for i := 0; i < 3; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	c := &Cluster{t: t}
	for i := 0; i < 3; i++ {
		n := &Node{t: t, Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[i], RoutePort: ports[3+i]}
		n.Dir = filepath.Join(dir, n.Name)
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		n.ConfPath = filepath.Join(n.Dir, "server.conf")
		n.LogPath = filepath.Join(n.Dir, "server.log")
		conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q%s }\ncluster { name: JSC, listen: 127.0.0.1:%d, routes: [%s] }\n",
			n.Name, n.ClientPort, filepath.Join(n.Dir, "js"), jsExtra, n.RoutePort, strings.Join(routes, ", "))
		if err := os.WriteFile(n.ConfPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			n.Stop()
		}
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("%s", n.Log())
			}
		}
	})
	c.StartAll()
	return c
}

// StartAll starts every stopped node concurrently and waits for their ports.
func (c *Cluster) StartAll() {
	c.t.Helper()
	for _, n := range c.Nodes {
		if n.cmd == nil {
			n.spawn()
		}
	}
	for _, n := range c.Nodes {
		n.waitUp()
	}
}

func (c *Cluster) URLs() string {
	var u []string
	for _, n := range c.Nodes {
		u = append(u, n.URL())
	}
	return strings.Join(u, ",")
}

// NotNamed returns the first node whose name is not `name` (a follower of
// the node named).
func (c *Cluster) NotNamed(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name != name {
			return n
		}
	}
	c.t.Fatalf("every node is named %s", name)
	return nil
}

func (c *Cluster) ByName(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.ClientPort) }

func (n *Node) PID() int {
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *Node) spawn() {
	n.t.Helper()
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.ClientPort), "-c", n.ConfPath}
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
		n.t.Fatalf("start %s: %v", n.Name, err)
	}
	lf.Close()
	n.cmd = cmd
	n.done = make(chan struct{})
	go func(c *exec.Cmd, d chan struct{}) { c.Wait(); close(d) }(cmd, n.done)
}

func (n *Node) waitUp() {
	n.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			n.t.Fatalf("%s exited during startup\n%s", n.Name, n.Log())
		default:
		}
		if canConnect(n.ClientPort) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	n.t.Fatalf("%s did not accept within 15s\n%s", n.Name, n.Log())
}

// Start (re)starts the process on the same ports and store.
func (n *Node) Start() {
	n.t.Helper()
	n.spawn()
	n.waitUp()
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

// Stop: SIGTERM, SIGKILL after 10 s. A server that dies of a signal of its
// own on the way out (an abort or a crash while shutting down) fails the test.
//
// HANG_STACKS=1: before that SIGKILL, log every thread's stack (gdb -p).
func (n *Node) Stop() {
	if !n.signalAndWait(syscall.SIGTERM, 10*time.Second) {
		if os.Getenv("HANG_STACKS") != "" && n.PID() != 0 {
			out, err := exec.Command("gdb", "-p", strconv.Itoa(n.PID()), "-batch", "-ex", "thread apply all bt").CombinedOutput()
			n.t.Logf("%s still running 10s after SIGTERM; stacks (%v):\n%s", n.Name, err, out)
		}
		n.signalAndWait(syscall.SIGKILL, 5*time.Second)
	}
	if n.cmd != nil && n.cmd.ProcessState != nil {
		if ws, ok := n.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() != syscall.SIGTERM {
			n.t.Errorf("%s died of %v when asked to stop\n%s", n.Name, ws.Signal(), n.Log())
		}
	}
	n.cmd = nil
}

// Kill: SIGKILL and wait for the exit.
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
	if len(s) > 12000 {
		s = "[...]\n" + s[len(s)-12000:]
	}
	return "----- " + n.Name + " log (" + n.LogPath + ") -----\n" + s + "----- end -----"
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for i := 0; time.Now().Before(deadline) && i < 100000; i++ {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s: %v", d, what, last)
}

// connect to one node, or to all with a URL list; reconnects forever, fast.
func connect(t *testing.T, urls string, name string) (*nats.Conn, nats.JetStreamContext) {
	t.Helper()
	nc, err := nats.Connect(urls, nats.Name(name), nats.Timeout(3*time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectJitter(0, 0), nats.DontRandomize())
	if err != nil {
		t.Fatalf("connect %s: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream(nats.MaxWait(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// WaitReady: through every node $JS.API.INFO answers, and an R3 stream can be
// created and deleted (meta leader elected, all peers known).
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	for _, n := range c.Nodes {
		nc, js := connect(c.t, n.URL(), "ready-"+n.Name)
		waitFor(c.t, timeout, "JetStream account info on "+n.Name, func() error {
			_, err := js.AccountInfo(nats.MaxWait(2 * time.Second))
			return err
		})
		nc.Close()
	}
	nc, js := connect(c.t, c.Nodes[0].URL(), "ready")
	defer nc.Close()
	name := fmt.Sprintf("READY_%d", time.Now().UnixNano())
	waitFor(c.t, timeout, "an R3 stream create", func() error {
		_, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"ready." + name}, Replicas: 3}, nats.MaxWait(3*time.Second))
		return err
	})
	waitFor(c.t, timeout, "the readiness stream delete", func() error {
		err := js.DeleteStream(name, nats.MaxWait(3*time.Second))
		if err == nats.ErrStreamNotFound {
			return nil
		}
		return err
	})
}

// WaitStreamHealthy: the stream has a leader and every replica is current,
// with at least minMsgs messages, as seen through the given connection.
func WaitStreamHealthy(t *testing.T, js nats.JetStreamContext, stream string, replicas int, minMsgs uint64, timeout time.Duration) *nats.StreamInfo {
	t.Helper()
	var si *nats.StreamInfo
	waitFor(t, timeout, "stream "+stream+" healthy", func() error {
		var err error
		si, err = js.StreamInfo(stream, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if si.Cluster == nil || si.Cluster.Leader == "" {
			return fmt.Errorf("no leader")
		}
		if len(si.Cluster.Replicas) != replicas-1 {
			return fmt.Errorf("replicas %d", len(si.Cluster.Replicas))
		}
		for _, r := range si.Cluster.Replicas {
			if !r.Current || r.Offline {
				return fmt.Errorf("replica %s current=%v offline=%v lag=%d", r.Name, r.Current, r.Offline, r.Lag)
			}
		}
		if si.State.Msgs < minMsgs {
			return fmt.Errorf("messages %d < %d", si.State.Msgs, minMsgs)
		}
		return nil
	})
	return si
}

func leaderOf(t *testing.T, js nats.JetStreamContext, stream string, timeout time.Duration) string {
	t.Helper()
	var leader string
	waitFor(t, timeout, "a leader for "+stream, func() error {
		si, err := js.StreamInfo(stream, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if si.Cluster == nil || si.Cluster.Leader == "" {
			return fmt.Errorf("no leader")
		}
		leader = si.Cluster.Leader
		return nil
	})
	return leader
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// stepDown asks the stream leader to step down; returns the JSON error if any.
func stepDown(nc *nats.Conn, stream string) error {
	m, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 3*time.Second)
	if err != nil {
		return err
	}
	var r struct {
		Success bool      `json:"success"`
		Error   *apiError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return err
	}
	if r.Error != nil {
		return fmt.Errorf("stepdown: %d %s", r.Error.ErrCode, r.Error.Description)
	}
	if !r.Success {
		return fmt.Errorf("stepdown: no success in %s", m.Data)
	}
	return nil
}

// StartSingle starts one JetStream node (no cluster) from a config file
// (server_name, listen, jetstream store_dir) and waits for $JS.API.INFO and
// for a stream create/delete to succeed.
func StartSingle(t *testing.T) *Node {
	t.Helper()
	n := startSingleInfo(t)
	nc, js := connect(t, n.URL(), "ready2")
	name := fmt.Sprintf("READY_%d", time.Now().UnixNano())
	waitFor(t, 15*time.Second, "a stream create", func() error {
		_, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"ready." + name}}, nats.MaxWait(3*time.Second))
		return err
	})
	if err := js.DeleteStream(name); err != nil {
		t.Fatalf("delete readiness stream: %v", err)
	}
	nc.Close()
	return n
}

// startSingleInfo: StartSingle up to $JS.API.INFO answering.
func startSingleInfo(t *testing.T) *Node {
	t.Helper()
	ports := freePorts(t, 1)
	n := &Node{t: t, Name: "s1", ClientPort: ports[0]}
	n.Dir = t.TempDir()
	n.ConfPath = filepath.Join(n.Dir, "server.conf")
	n.LogPath = filepath.Join(n.Dir, "server.log")
	conf := fmt.Sprintf("server_name: s1\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n", n.ClientPort, filepath.Join(n.Dir, "js"))
	if err := os.WriteFile(n.ConfPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("%s", n.Log())
		}
	})
	n.Start()
	nc, js := connect(t, n.URL(), "ready")
	waitFor(t, 15*time.Second, "JetStream account info", func() error {
		_, err := js.AccountInfo(nats.MaxWait(2 * time.Second))
		return err
	})
	nc.Close()
	return n
}
