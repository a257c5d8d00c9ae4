// Package securitytest holds Herald's real-client (nats.go) security tests:
// nkeys, bcrypt, permissions, "no escapes", revocation / reload, OIDC JWTs.
// Run (offline, GOPATH mode, like tests/go):
//
//	cd tests/security && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
//	  GOCACHE=$PWD/.gocache SERVER_KIND=herald SERVER_BIN=/path/to/herald go test -v -count=1 .
//
// SERVER_KIND=herald|nats-server selects the server (default herald), SERVER_BIN
// its binary. Herald-only features (oidc, revocation_file, permission_sets,
// failure_delay) are skipped against nats-server.
package securitytest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func serverKind() string {
	if k := os.Getenv("SERVER_KIND"); k != "" {
		return k
	}
	return "herald"
}

func isHerald() bool { return serverKind() == "herald" }

func heraldOnly(t *testing.T) {
	t.Helper()
	if !isHerald() {
		t.Skip("Herald-only feature")
	}
}

func serverBin() string {
	if b := os.Getenv("SERVER_BIN"); b != "" {
		return b
	}
	if isHerald() {
		wd, _ := os.Getwd()
		return filepath.Join(wd, "..", "..", "bazel-bin", "server", "herald")
	}
	return "/usr/sbin/nats-server"
}

// fastFail is put into every authorization block: refused clients are
// answered after 10ms instead of Herald's default 500ms (nats-server has no
// such key).
func fastFail() string {
	if isHerald() {
		return `failure_delay: "10ms"`
	}
	return ""
}

// Server is one server-under-test process.
type Server struct {
	t        *testing.T
	Port     int
	Dir      string
	ConfPath string
	LogPath  string
	cmd      *exec.Cmd
	done     chan struct{}
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

// StartServer starts the server with the config text on a free port. It is
// stopped (by PID) on test cleanup; its log is printed if the test failed.
func StartServer(t *testing.T, config string) *Server {
	t.Helper()
	dir := t.TempDir()
	return StartServerIn(t, dir, config)
}

// StartServerIn is StartServer with a given directory (for configs that
// reference files in it).
func StartServerIn(t *testing.T, dir, config string) *Server {
	t.Helper()
	s := &Server{t: t, Port: freePort(t), Dir: dir}
	s.LogPath = filepath.Join(dir, "server.log")
	s.ConfPath = filepath.Join(dir, "server.conf")
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s", s.Log())
		}
	})
	s.WriteConfig(config)
	bin := serverBin()
	args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-c", s.ConfPath}
	lf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(lf, "### %s %v\n", bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	lf.Close()
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("server exited during startup\n%s", s.Log())
		default:
		}
		if canConnect(s.Port) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	t.Fatalf("server did not accept on port %d within 10s\n%s", s.Port, s.Log())
	return nil
}

func (s *Server) WriteConfig(config string) {
	s.t.Helper()
	if err := os.WriteFile(s.ConfPath, []byte(config), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// Reload rewrites the config and sends SIGHUP.
func (s *Server) Reload(config string) time.Time {
	s.t.Helper()
	s.WriteConfig(config)
	now := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatalf("SIGHUP: %v", err)
	}
	return now
}

func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }

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

func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	const max = 15000
	text := string(b)
	if len(text) > max {
		text = fmt.Sprintf("[... %d bytes cut ...]\n", len(text)-max) + text[len(text)-max:]
	}
	return "----- server log (" + s.LogPath + ") -----\n" + text + "----- end of log -----"
}

// Client is a nats.go connection that records async errors and its close.
type Client struct {
	*nats.Conn
	Name     string
	errs     chan error
	closed   chan struct{}
	mu       sync.Mutex
	closedAt time.Time
}

// Connect connects with NoReconnect and an error/closed recorder; fails the
// test on error.
func Connect(t *testing.T, s *Server, name string, opts ...nats.Option) *Client {
	t.Helper()
	c, err := TryConnect(s, name, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TryConnect(s *Server, name string, opts ...nats.Option) (*Client, error) {
	c := &Client{Name: name, errs: make(chan error, 100), closed: make(chan struct{})}
	base := []nats.Option{
		nats.Name(name),
		nats.Timeout(5 * time.Second),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}),
		nats.ClosedHandler(func(_ *nats.Conn) {
			c.mu.Lock()
			if c.closedAt.IsZero() {
				c.closedAt = time.Now()
			}
			c.mu.Unlock()
			select {
			case <-c.closed:
			default:
				close(c.closed)
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, _ error) {
			c.mu.Lock()
			if c.closedAt.IsZero() {
				c.closedAt = time.Now()
			}
			c.mu.Unlock()
		}),
	}
	nc, err := nats.Connect(s.URL(), append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	c.Conn = nc
	return c, nil
}

// ClosedAt is when the client saw its connection end (zero if it did not).
func (c *Client) ClosedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt
}

// WaitClosed waits until the client's connection is closed by the server.
func (c *Client) WaitClosed(t *testing.T, d time.Duration) time.Time {
	t.Helper()
	select {
	case <-c.closed:
		return c.ClosedAt()
	case <-time.After(d):
		t.Fatalf("%s: connection not closed within %v", c.Name, d)
	}
	return time.Time{}
}

// ExpectErr waits for an async error whose text is exactly want.
func (c *Client) ExpectErr(t *testing.T, want string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	var seen []string
	for {
		select {
		case err := <-c.errs:
			if err.Error() == want {
				return
			}
			seen = append(seen, err.Error())
		case <-timeout:
			t.Fatalf("%s: no async error %q within %v (saw %q)", c.Name, want, d, seen)
		}
	}
}

// NoErr asserts no async error arrived (call after a flush).
func (c *Client) NoErr(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.errs:
		t.Fatalf("%s: unexpected async error: %v", c.Name, err)
	default:
	}
}

// Flush round-trips a PING (after which the server has processed everything
// this client sent before, including any -ERR it answered).
func (c *Client) Flush(t *testing.T) {
	t.Helper()
	if err := c.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("%s: flush: %v", c.Name, err)
	}
}

// IsOpen: still connected (not closed, not disconnected).
func (c *Client) IsOpen() bool { return c.Conn.IsConnected() && c.ClosedAt().IsZero() }

func pubErr(subj string) string {
	return fmt.Sprintf("nats: Permissions Violation for Publish to %q", subj)
}
func subErr(subj string) string {
	return fmt.Sprintf("nats: Permissions Violation for Subscription to %q", subj)
}

// ExpectAuthFail asserts that a connection with these options is refused
// with an authorization violation.
func ExpectAuthFail(t *testing.T, s *Server, what string, opts ...nats.Option) {
	t.Helper()
	c, err := TryConnect(s, what, opts...)
	if err == nil {
		c.Close()
		t.Fatalf("%s: connect succeeded, want authorization violation", what)
	}
	if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("%s: want authorization violation, got %v", what, err)
	}
}

// ChanSub subscribes (optionally in a queue group) into a buffered channel.
func ChanSub(t *testing.T, c *Client, subj, queue string) (*nats.Subscription, chan *nats.Msg) {
	t.Helper()
	ch := make(chan *nats.Msg, 10000)
	var sub *nats.Subscription
	var err error
	if queue == "" {
		sub, err = c.ChanSubscribe(subj, ch)
	} else {
		sub, err = c.ChanQueueSubscribe(subj, queue, ch)
	}
	if err != nil {
		t.Fatalf("%s: subscribe %s: %v", c.Name, subj, err)
	}
	return sub, ch
}

// Recv gets one message within d.
func Recv(t *testing.T, ch <-chan *nats.Msg, d time.Duration) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

// Drain returns the subjects of all messages queued on ch.
func Drain(ch <-chan *nats.Msg) []string {
	var out []string
	for {
		select {
		case m := <-ch:
			out = append(out, m.Subject)
		default:
			return out
		}
	}
}

// ExpectNone asserts nothing arrives on ch within d.
func ExpectNone(t *testing.T, ch <-chan *nats.Msg, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message on %s: %q", m.Subject, m.Data)
	case <-time.After(d):
	}
}

// RawInfo dials the server and returns its INFO fields.
func RawInfo(t *testing.T, s *Server) map[string]interface{} {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read INFO: %v", err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line is not INFO: %q", line)
	}
	var info map[string]interface{}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line[5:])), &info); err != nil {
		t.Fatalf("INFO json: %v", err)
	}
	return info
}

var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// writeInPlace overwrites a file without a rename (same inode).
func writeInPlace(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
