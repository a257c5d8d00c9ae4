// Package heraldtest holds the real-client (nats.go) integration tests for the
// Herald single-node server. Run (offline, GOPATH mode):
//
//	cd tests/go && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
//	  GOCACHE=$PWD/.gocache SERVER_KIND=nats-server go test -v -count=1 .
//
// SERVER_KIND=herald|nats-server selects the server, SERVER_BIN its binary.
package heraldtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serverBin() (kind, bin string) {
	kind = os.Getenv("SERVER_KIND")
	if kind == "" {
		kind = "nats-server"
	}
	bin = os.Getenv("SERVER_BIN")
	if bin != "" {
		return
	}
	switch kind {
	case "herald":
		wd, _ := os.Getwd()
		bin = filepath.Join(wd, "..", "..", "bazel-bin", "server", "herald")
	default:
		bin = "nats-server"
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
				break
			}
		}
	}
	return
}

// Server is one server-under-test process.
type Server struct {
	t       *testing.T
	Port    int
	Args    []string
	Config  string
	Dir     string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func canConnect(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartServer starts the server under test on a free port with an optional
// config (nats-server conf syntax) and extra args. It is stopped on test
// cleanup, and its log is printed if the test failed.
func StartServer(t *testing.T, config string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, Port: freePort(t), Args: args, Config: config, Dir: t.TempDir()}
	s.LogPath = filepath.Join(s.Dir, "server.log")
	t.Cleanup(func() {
		s.Stop()
		// sanitizer builds (ASan/LSan/TSan/UBSan): any report fails the test
		if r := s.SanitizerReports(); len(r) > 0 {
			t.Errorf("sanitizer report in server log: %v", r)
		}
		if t.Failed() {
			t.Logf("%s", s.Log())
		}
	})
	s.Start()
	return s
}

func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }

// Start (re)starts the process on s.Port and waits until the port accepts.
func (s *Server) Start() {
	s.t.Helper()
	_, bin := serverBin()
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.Port)}
	if s.Config != "" {
		conf := filepath.Join(s.Dir, "server.conf")
		if err := os.WriteFile(conf, []byte(s.Config), 0o644); err != nil {
			s.t.Fatal(err)
		}
		args = append(args, "-c", conf)
	}
	args = append(args, s.Args...)
	lf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(lf, "### %s %v\n", bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// if the test binary dies (panic, -timeout) the server goes with it
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		s.t.Fatalf("start %s: %v", bin, err)
	}
	lf.Close()
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.t.Fatalf("server exited during startup\n%s", s.Log())
		default:
		}
		if canConnect(s.Port) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	s.t.Fatalf("server did not accept on port %d within 10s\n%s", s.Port, s.Log())
}

// Stop sends SIGTERM, then SIGKILL after 5s, and waits for the exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		s.cmd = nil
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
	}
	s.cmd = nil
}

var sanitizerRE = regexp.MustCompile(`ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|WARNING: ThreadSanitizer|runtime error: `)

// SanitizerReports returns (up to 3) sanitizer report lines from the log.
func (s *Server) SanitizerReports() []string {
	b, _ := os.ReadFile(s.LogPath)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if sanitizerRE.MatchString(l) && len(out) < 3 {
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	const max = 20000 // keep failure output readable: the tail is what matters
	text := string(b)
	if len(text) > max {
		text = fmt.Sprintf("[... %d bytes cut ...]\n", len(text)-max) + text[len(text)-max:]
	}
	return "----- server log (" + s.LogPath + ") -----\n" + text + "----- end of log -----"
}

// waitFor polls cond until true or the timeout passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}
