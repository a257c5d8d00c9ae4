package securitytest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Queue-qualified deny entries deny only subscriptions in matching queues
// and never re-allow what a plain deny entry denies (GHSA-jx8g-9g95-6322).
func TestQueueDeny(t *testing.T) {
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  users: [
    { user: admin, password: a, permissions: { publish: ">", subscribe: ">" } }
    { user: u, password: u, permissions: { subscribe: { allow: ["jobs.>", "secret.> q1"], deny: ["jobs.> bad", "secret.>"] } } }
  ]
}`, fastFail()))
	admin := Connect(t, s, "admin", nats.UserInfo("admin", "a"))
	u := Connect(t, s, "u", nats.UserInfo("u", "u"))
	_, good := ChanSub(t, u, "jobs.x", "good")
	_, plain := ChanSub(t, u, "jobs.x", "")
	u.Flush(t)
	u.NoErr(t)
	ChanSub(t, u, "jobs.x", "bad")
	u.ExpectErr(t, `nats: Permissions Violation for Subscription to "jobs.x" using queue "bad"`, 2*time.Second)
	// the queue allow "secret.> q1" does not override the plain deny
	_, sq := ChanSub(t, u, "secret.x", "q1")
	u.ExpectErr(t, `nats: Permissions Violation for Subscription to "secret.x" using queue "q1"`, 2*time.Second)
	admin.Publish("jobs.x", nil)
	admin.Publish("secret.x", nil)
	settle(t, admin, u)
	Recv(t, good, 2*time.Second)
	Recv(t, plain, 2*time.Second)
	ExpectNone(t, sq, 100*time.Millisecond)
}

// A requester needs subscribe permission for its reply inbox.
func TestRequestNeedsInboxPermission(t *testing.T) {
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  users: [
    { user: svc, password: s, permissions: { subscribe: "svc.>", allow_responses: true } }
    { user: req, password: r, permissions: { publish: "svc.>", subscribe: "other.>" } }
    { user: req2, password: r, permissions: { publish: "svc.>", subscribe: "_INBOX.>" } }
  ]
}`, fastFail()))
	svc := Connect(t, s, "svc", nats.UserInfo("svc", "s"))
	svc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(m.Data) })
	svc.Flush(t)
	req := Connect(t, s, "req", nats.UserInfo("req", "r"))
	if _, err := req.Request("svc.echo", []byte("x"), 500*time.Millisecond); err == nil {
		t.Fatal("request answered without permission for the reply inbox")
	}
	errs := Drain2(req)
	if len(errs) == 0 || !strings.HasPrefix(errs[0], `nats: Permissions Violation for Subscription to "_INBOX.`) {
		t.Fatalf("requester errors %q, want a subscription violation for its inbox", errs)
	}
	req2 := Connect(t, s, "req2", nats.UserInfo("req2", "r"))
	m, err := req2.Request("svc.echo", []byte("x"), 2*time.Second)
	if err != nil || string(m.Data) != "x" {
		t.Fatalf("request: %v %v", m, err)
	}
	svc.NoErr(t)
}
