package main

// Cluster helpers, copied from tests/jetstream/go/helper_test.go (same config
// shape, same readiness check) without the testing.T dependency: a failure
// here stops every node and exits (die).

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Node is one cluster member process.
type Node struct {
	Name                   string
	ClientPort, RoutePort  int
	Dir, ConfPath, LogPath string
	cmd                    *exec.Cmd
	done                   chan struct{}
}

// Cluster is three JetStream nodes of one server binary.
type Cluster struct {
	Bin     string
	PIDFile string
	Nodes   []*Node
	mu      sync.Mutex // guards cmd/done of every node against the signal handler
}

var theCluster *Cluster // for die() and the signal handler

var connectFailures atomic.Int64 // first connects that failed (retried)

func freePorts(n int) []int {
	var ls []net.Listener
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			die("free port: %v", err)
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

// NewCluster3 writes one config file per node under dir: server_name,
// listen, jetstream { store_dir }, cluster { name, listen, routes to all
// three nodes including itself }. jsExtra is appended inside jetstream {}.
func NewCluster3(bin, dir, jsExtra string) *Cluster {
	ports := freePorts(6)
	var routes []string
	for i := 0; i < 3; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	c := &Cluster{Bin: bin, PIDFile: filepath.Join(dir, "pids")}
	extra := ""
	if strings.TrimSpace(jsExtra) != "" {
		extra = ", " + jsExtra
	}
	for i := 0; i < 3; i++ {
		n := &Node{Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[i], RoutePort: ports[3+i]}
		n.Dir = filepath.Join(dir, n.Name)
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			die("%v", err)
		}
		n.ConfPath = filepath.Join(n.Dir, "server.conf")
		n.LogPath = filepath.Join(n.Dir, "server.log")
		conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q%s }\ncluster { name: JSC, listen: 127.0.0.1:%d, routes: [%s] }\n",
			n.Name, n.ClientPort, filepath.Join(n.Dir, "js"), extra, n.RoutePort, strings.Join(routes, ", "))
		if err := os.WriteFile(n.ConfPath, []byte(conf), 0o644); err != nil {
			die("%v", err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	theCluster = c
	return c
}

func (c *Cluster) URLs() string {
	var u []string
	for _, n := range c.Nodes {
		u = append(u, n.URL())
	}
	return strings.Join(u, ",")
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

func (c *Cluster) PID(n *Node) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Spawn starts the node's process (same ports, same store) and records its
// PID in PIDFile (the shell script's exit trap kills what is left).
func (c *Cluster) Spawn(n *Node) {
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(n.ClientPort), "-c", n.ConfPath}
	lf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		die("%v", err)
	}
	fmt.Fprintf(lf, "### %s %s %v\n", time.Now().Format(time.RFC3339Nano), c.Bin, args)
	cmd := exec.Command(c.Bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.mu.Lock()
	err = cmd.Start()
	if err == nil {
		n.cmd = cmd
		n.done = make(chan struct{})
		go func(cm *exec.Cmd, d chan struct{}) { cm.Wait(); close(d) }(cmd, n.done)
	}
	c.mu.Unlock()
	lf.Close()
	if err != nil {
		die("start %s: %v", n.Name, err)
	}
	if pf, err := os.OpenFile(c.PIDFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(pf, "%d\n", cmd.Process.Pid)
		pf.Close()
	}
}

// WaitUp waits (bounded) until the node's client port accepts.
func (c *Cluster) WaitUp(n *Node, d time.Duration) error {
	deadline := time.Now().Add(d)
	c.mu.Lock()
	done := n.done
	c.mu.Unlock()
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited during startup", n.Name)
		default:
		}
		if canConnect(n.ClientPort) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept within %v", n.Name, d)
}

// Signal sends sig to the node's process (if running); returns its exit channel.
func (c *Cluster) Signal(n *Node, sig syscall.Signal) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return nil
	}
	n.cmd.Process.Signal(sig)
	return n.done
}

// Reap waits (bounded) for an exit channel returned by Signal.
func (c *Cluster) Reap(n *Node, done chan struct{}, d time.Duration) bool {
	if done != nil {
		select {
		case <-done:
		case <-time.After(d):
			return false
		}
	}
	c.mu.Lock()
	if n.done == done {
		n.cmd = nil
	}
	c.mu.Unlock()
	return true
}

// Kill: SIGKILL and wait for the exit.
func (c *Cluster) Kill(n *Node) {
	if !c.Reap(n, c.Signal(n, syscall.SIGKILL), 10*time.Second) {
		die("%s did not exit within 10 s of SIGKILL", n.Name)
	}
}

// StopAll: SIGTERM, SIGKILL after 10 s, every node at once.
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			if !c.Reap(n, c.Signal(n, syscall.SIGTERM), 10*time.Second) {
				c.Reap(n, c.Signal(n, syscall.SIGKILL), 5*time.Second)
			}
		}(n)
	}
	wg.Wait()
}

// KillAllNow: SIGKILL to every node, without waiting (signal handler).
func (c *Cluster) KillAllNow() {
	for _, n := range c.Nodes {
		c.Signal(n, syscall.SIGKILL)
	}
}

func (n *Node) LogTail(max int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "(no log)"
	}
	s := string(b)
	if len(s) > max {
		s = "[...]\n" + s[len(s)-max:]
	}
	return "----- " + n.Name + " log (" + n.LogPath + ") -----\n" + s + "----- end -----"
}

// waitFor polls cond every 50 ms until it returns nil or d passes.
func waitFor(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	var last error
	for i := 0; i < 1000000; i++ {
		if last = cond(); last == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v: %v", d, last)
}

// connect to one node, or to all with a URL list; reconnects forever, fast.
// A failed first connect is retried (bounded) and reported: a server that
// sends an async INFO before the PONG of the handshake fails nats.go's
// connect ("expected 'PONG', got 'INFO ...'").
func connect(urls, name string) (*nats.Conn, nats.JetStreamContext) {
	var nc *nats.Conn
	var err error
	for attempt := 1; attempt <= 20; attempt++ {
		nc, err = nats.Connect(urls, nats.Name(name), nats.Timeout(3*time.Second), nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond), nats.ReconnectJitter(0, 0), nats.DontRandomize())
		if err == nil {
			break
		}
		msg := err.Error()
		if len(msg) > 160 {
			msg = msg[:160] + "..."
		}
		fmt.Printf("NOTE: connect %s (%s) failed, attempt %d: %s\n", urls, name, attempt, msg)
		connectFailures.Add(1)
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		die("connect %s: %v", urls, err)
	}
	js, err := nc.JetStream(nats.MaxWait(3 * time.Second))
	if err != nil {
		die("%v", err)
	}
	return nc, js
}

// WaitReady: through every node $JS.API.INFO answers, and an R3 stream can be
// created and deleted (meta leader elected, all peers known).
func (c *Cluster) WaitReady(timeout time.Duration) error {
	for _, n := range c.Nodes {
		nc, js := connect(n.URL(), "ready-"+n.Name)
		err := waitFor(timeout, func() error {
			_, err := js.AccountInfo(nats.MaxWait(2 * time.Second))
			return err
		})
		nc.Close()
		if err != nil {
			return fmt.Errorf("JetStream account info on %s: %v", n.Name, err)
		}
	}
	nc, js := connect(c.Nodes[0].URL(), "ready")
	defer nc.Close()
	name := fmt.Sprintf("READY_%d", time.Now().UnixNano())
	if err := waitFor(timeout, func() error {
		_, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"ready." + name}, Replicas: 3}, nats.MaxWait(3*time.Second))
		return err
	}); err != nil {
		return fmt.Errorf("R3 stream create: %v", err)
	}
	return waitFor(timeout, func() error {
		err := js.DeleteStream(name, nats.MaxWait(3*time.Second))
		if err == nats.ErrStreamNotFound {
			return nil
		}
		return err
	})
}

// streamHealthy: the stream has a leader and every replica is current, with
// at least minMsgs messages.
func streamHealthy(js nats.JetStreamContext, stream string, replicas int, minMsgs uint64) (*nats.StreamInfo, error) {
	si, err := js.StreamInfo(stream, nats.MaxWait(2*time.Second))
	if err != nil {
		return nil, err
	}
	if si.Cluster == nil || si.Cluster.Leader == "" {
		return si, fmt.Errorf("no leader")
	}
	if len(si.Cluster.Replicas) != replicas-1 {
		return si, fmt.Errorf("replicas %d", len(si.Cluster.Replicas))
	}
	for _, r := range si.Cluster.Replicas {
		if !r.Current || r.Offline {
			return si, fmt.Errorf("replica %s current=%v offline=%v lag=%d", r.Name, r.Current, r.Offline, r.Lag)
		}
	}
	if si.State.Msgs < minMsgs {
		return si, fmt.Errorf("messages %d < %d", si.State.Msgs, minMsgs)
	}
	return si, nil
}

func waitStreamHealthy(js nats.JetStreamContext, stream string, minMsgs uint64, timeout time.Duration) (*nats.StreamInfo, error) {
	var si *nats.StreamInfo
	err := waitFor(timeout, func() error {
		var err error
		si, err = streamHealthy(js, stream, 3, minMsgs)
		return err
	})
	return si, err
}

func leaderOf(js nats.JetStreamContext, stream string, timeout time.Duration) (string, error) {
	var leader string
	err := waitFor(timeout, func() error {
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
	return leader, err
}
