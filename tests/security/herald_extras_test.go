package securitytest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Herald: users and nkeys take a named permission set with `role`.
func TestRoles(t *testing.T) {
	heraldOnly(t)
	kp, pub := newUserKey(t)
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  permission_sets {
    reader: { publish: { deny: ">" }, subscribe: "news.>" }
    writer: { publish: "news.>", subscribe: { deny: ">" } }
  }
  users: [ { user: r, password: r, role: reader }, { nkey: %s, role: writer } ]
}`, fastFail(), pub))
	r := Connect(t, s, "reader", nats.UserInfo("r", "r"))
	w := Connect(t, s, "writer", nkeyOpt(pub, kp))
	_, ch := ChanSub(t, r, "news.>", "")
	r.Flush(t)
	w.Publish("news.a", []byte("x"))
	settle(t, w, r)
	if m := Recv(t, ch, 2*time.Second); m.Subject != "news.a" {
		t.Fatalf("got %s", m.Subject)
	}
	r.Publish("news.b", nil)
	r.ExpectErr(t, pubErr("news.b"), 2*time.Second)
	w.Publish("other", nil)
	w.ExpectErr(t, pubErr("other"), 2*time.Second)
	ChanSub(t, w, "news.>", "")
	w.ExpectErr(t, subErr("news.>"), 2*time.Second)
	// a reply subject reserved for the server is refused
	w.PublishRequest("news.c", "_R_.abc", nil)
	w.ExpectErr(t, `nats: Permissions Violation for Publish with Reply of "_R_.abc"`, 2*time.Second)
	settle(t, w, r)
	ExpectNone(t, ch, 100*time.Millisecond)
}

// rawAuthFail sends a bad CONNECT and returns the server's answer and how
// long it took.
func rawAuthFail(t *testing.T, s *Server) (string, time.Duration) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(8 * time.Second))
	br := bufio.NewReader(conn)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fmt.Fprintf(conn, "CONNECT {\"user\":\"u\",\"pass\":\"wrong\",\"verbose\":false}\r\nPING\r\n")
	line, err := br.ReadString('\n')
	d := time.Since(start)
	if err != nil {
		t.Fatalf("no answer to a bad CONNECT: %v", err)
	}
	// and then the connection is closed
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("connection not closed after the auth error")
	}
	return strings.TrimRight(line, "\r\n"), d
}

// Herald: failed logins are answered after failure_delay, doubling per
// further failure from the same address; a success resets it.
func TestFailureDelay(t *testing.T) {
	heraldOnly(t)
	s := StartServer(t, `authorization { failure_delay: "100ms", users: [ { user: u, password: p } ] }`)
	var ds []time.Duration
	for i := 0; i < 3; i++ {
		line, d := rawAuthFail(t, s)
		if line != "-ERR 'Authorization Violation'" {
			t.Fatalf("answer %q", line)
		}
		ds = append(ds, d)
	}
	Connect(t, s, "ok", nats.UserInfo("u", "p")).Close()
	_, after := rawAuthFail(t, s)
	t.Logf("failure delays: %v, after a success: %v", ds, after)
	mins := []time.Duration{90, 180, 360}
	for i, d := range ds {
		if d < mins[i]*time.Millisecond || d > mins[i]*time.Millisecond+time.Second {
			t.Errorf("failure %d answered after %v, want about %vms", i+1, d, mins[i]*10/9)
		}
	}
	if after < 90*time.Millisecond || after > 350*time.Millisecond {
		t.Errorf("after a successful login the delay is %v, want ~100ms", after)
	}
}
