package main

// Server processes: N nodes of herald or nats-server on free 127.0.0.1
// ports, each started from its own config file (server_name, listen,
// jetstream store_dir, cluster routes to every node including itself) with
// its own store dir under the run dir, stopped and killed by PID. The same
// layout as tests/jetstream/go/helper_test.go, copied so that this package
// stands alone.

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type Node struct {
	Name                   string
	ClientPort, RoutePort  int
	Dir, ConfPath, LogPath string
	bin                    string
	// Host: the address it listens on and clients use (127.0.0.1, or its
	// namespace's address in --net netns mode).
	Host  string
	Index int
	// wrap, when set, turns (bin, args) into the command actually run (ip
	// netns exec, env LD_PRELOAD=libfaketime...): netns.go, clock.go.
	wrap func(bin string, args []string) (string, []string)

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
	starts int
	// expectExit: we signalled it to exit; any other exit is a crash.
	expectExit bool
	crashes    []string
}

type Cluster struct {
	Kind  string
	Bin   string
	Nodes []*Node
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	var out []int
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func canConnect(host string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// NewCluster writes one config file per node under runDir/<name>/.
func NewCluster(kind, bin, runDir string, n int) (*Cluster, error) {
	return NewClusterOn(kind, bin, runDir, n, nil)
}

// NewClusterOn: hosts gives each node its own address (ports 4222 and 6222
// on each); nil: every node on 127.0.0.1 with free ports.
func NewClusterOn(kind, bin, runDir string, n int, hosts []string) (*Cluster, error) {
	var ports []int
	if hosts == nil {
		var err error
		if ports, err = freePorts(2 * n); err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			hosts = append(hosts, "127.0.0.1")
		}
	} else {
		for i := 0; i < n; i++ {
			ports = append(ports, 4222)
		}
		for i := 0; i < n; i++ {
			ports = append(ports, 6222)
		}
	}
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats-route://%s:%d", hosts[i], ports[n+i]))
	}
	c := &Cluster{Kind: kind, Bin: bin}
	for i := 0; i < n; i++ {
		nd := &Node{Name: fmt.Sprintf("n%d", i+1), ClientPort: ports[i], RoutePort: ports[n+i], bin: bin, Host: hosts[i], Index: i}
		nd.Dir = filepath.Join(runDir, nd.Name)
		if err := os.MkdirAll(nd.Dir, 0o755); err != nil {
			return nil, err
		}
		nd.ConfPath = filepath.Join(nd.Dir, "server.conf")
		nd.LogPath = filepath.Join(nd.Dir, "server.log")
		conf := fmt.Sprintf("server_name: %s\nlisten: %s:%d\njetstream { store_dir: %q }\ncluster { name: CHAOS, listen: %s:%d, routes: [%s] }\n",
			nd.Name, nd.Host, nd.ClientPort, filepath.Join(nd.Dir, "js"), nd.Host, nd.RoutePort, strings.Join(routes, ", "))
		if *serverDebug && kind == "herald" {
			conf += "debug: true\n" // leadership changes and API requests in server.log
		}
		if err := os.WriteFile(nd.ConfPath, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, nd)
	}
	return c, nil
}

func (c *Cluster) ByName(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (c *Cluster) URLs(first int) string {
	var u []string
	for i := range c.Nodes {
		u = append(u, c.Nodes[(first+i)%len(c.Nodes)].URL())
	}
	return strings.Join(u, ",")
}

// StartAll starts every node that is down, concurrently, and waits for ports.
func (c *Cluster) StartAll() error {
	for _, n := range c.Nodes {
		if !n.Running() {
			if err := n.spawn(); err != nil {
				return err
			}
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitUp(); err != nil {
			return err
		}
	}
	return nil
}

// Heal: SIGCONT every paused node, start every stopped one.
func (c *Cluster) Heal() error {
	for _, n := range c.Nodes {
		n.Resume()
	}
	return c.StartAll()
}

// Shutdown: SIGCONT, SIGTERM, SIGKILL after a bound.
func (c *Cluster) Shutdown() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			n.mu.Lock()
			n.expectExit = true
			n.mu.Unlock()
			n.Resume()
			if !n.signalAndWait(syscall.SIGTERM, 10*time.Second) {
				n.signalAndWait(syscall.SIGKILL, 5*time.Second)
			}
			n.mu.Lock()
			n.cmd = nil
			n.mu.Unlock()
		}(n)
	}
	wg.Wait()
}

func (n *Node) URL() string { return fmt.Sprintf("nats://%s:%d", n.Host, n.ClientPort) }

func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

func (n *Node) Paused() bool { n.mu.Lock(); defer n.mu.Unlock(); return n.paused }

func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func (n *Node) spawn() error {
	args := []string{"-a", n.Host, "-p", strconv.Itoa(n.ClientPort), "-c", n.ConfPath}
	exe := n.bin
	if n.wrap != nil {
		exe, args = n.wrap(exe, args)
	}
	lf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	fmt.Fprintf(lf, "### %s chaos: start %s %v\n", time.Now().Format("15:04:05.000"), exe, args)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = nodeEnv(n) // nemesis_disk.go
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %v", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		n.mu.Lock()
		if !n.expectExit {
			n.crashes = append(n.crashes, fmt.Sprintf("%s %s exited unexpectedly: %s", time.Now().Format("15:04:05.000"), n.Name, cmd.ProcessState.String()))
		}
		n.mu.Unlock()
		close(done)
	}()
	n.mu.Lock()
	n.cmd, n.done, n.paused, n.expectExit = cmd, done, false, false
	n.starts++
	n.mu.Unlock()
	return nil
}

func (n *Node) waitUp() error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited during startup (log %s)", n.Name, n.LogPath)
		default:
		}
		if canConnect(n.Host, n.ClientPort) {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept within 20s (log %s)", n.Name, n.LogPath)
}

// Start (re)starts the process on the same ports and store.
func (n *Node) Start() error {
	if err := n.spawn(); err != nil {
		return err
	}
	return n.waitUp()
}

func (n *Node) mark(what string) {
	if lf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(lf, "### %s chaos: %s\n", time.Now().Format("15:04:05.000"), what)
		lf.Close()
	}
}

func (n *Node) signalAndWait(sig syscall.Signal, grace time.Duration) bool {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(grace):
		return false
	}
}

// Kill: SIGKILL and wait for the exit.
func (n *Node) Kill() error {
	n.mark(fmt.Sprintf("SIGKILL pid %d", n.PID()))
	n.mu.Lock()
	n.expectExit = true
	n.mu.Unlock()
	if !n.signalAndWait(syscall.SIGKILL, 5*time.Second) {
		return fmt.Errorf("%s did not exit after SIGKILL", n.Name)
	}
	n.mu.Lock()
	n.cmd, n.paused = nil, false
	n.mu.Unlock()
	return nil
}

func (n *Node) Pause() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil && !n.paused {
		n.cmd.Process.Signal(syscall.SIGSTOP)
		n.paused = true
	}
	go n.mark("SIGSTOP")
}

func (n *Node) Resume() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil && n.paused {
		n.cmd.Process.Signal(syscall.SIGCONT)
		n.paused = false
		go n.mark("SIGCONT")
	}
}

// Crashes lists exits we did not cause.
func (n *Node) Crashes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.crashes...)
}

var serverDebug = flag.Bool("server-debug", false,
	"herald: start every node with debug logging (leadership changes, API requests) in its server.log")
