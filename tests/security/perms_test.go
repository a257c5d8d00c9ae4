package securitytest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func permsConfig() string {
	return fmt.Sprintf(`authorization { %s
  default_permissions { publish { allow: ["def.>"] }, subscribe { allow: ["def.>"] } }
  users: [
    { user: admin, password: a, permissions: { publish: ">", subscribe: ">" } }
    { user: pubr, password: p, permissions: {
        publish: { allow: ["orders.>", "_INBOX.>"], deny: ["orders.admin.>"] }
        subscribe: "_INBOX.>" } }
    { user: subr, password: s, permissions: {
        publish: "nothing.>"
        subscribe: { allow: ["feed.>", "jobs.> workers", "feed.secret"], deny: ["feed.secret", "feed.private.>"] } } }
    { user: svc, password: v, permissions: { subscribe: "svc.>", allow_responses: true } }
    { user: dflt, password: d }
  ]
}
`, fastFail())
}

// settle makes sure the server has processed what every client sent and
// each client has read what the server delivered up to now.
func settle(t *testing.T, cs ...*Client) {
	t.Helper()
	for i := 0; i < 2; i++ {
		for _, c := range cs {
			c.Flush(t)
		}
	}
}

func TestPermissions(t *testing.T) {
	s := StartServer(t, permsConfig())
	admin := Connect(t, s, "admin", nats.UserInfo("admin", "a"))
	_, all := ChanSub(t, admin, ">", "")
	admin.Flush(t)

	t.Run("PublishAllowDeny", func(t *testing.T) {
		pubr := Connect(t, s, "pubr", nats.UserInfo("pubr", "p"))
		pubr.Publish("orders.new", []byte("ok"))
		settle(t, pubr, admin)
		if m := Recv(t, all, 2*time.Second); m.Subject != "orders.new" {
			t.Fatalf("got %s", m.Subject)
		}
		// deny wins over the allow "orders.>"
		pubr.Publish("orders.admin.x", []byte("no"))
		pubr.ExpectErr(t, pubErr("orders.admin.x"), 2*time.Second)
		// not in the allow list
		pubr.Publish("billing.x", []byte("no"))
		pubr.ExpectErr(t, pubErr("billing.x"), 2*time.Second)
		// Herald: a publish subject with wildcard tokens must not collide
		// with a deny entry ("orders.>" covers "orders.admin.x"); nats-server
		// 2.9.10 matches it literally and lets it through
		if isHerald() {
			pubr.Publish("orders.>", []byte("no"))
			pubr.ExpectErr(t, pubErr("orders.>"), 2*time.Second)
		}
		settle(t, pubr, admin)
		if got := Drain(all); len(got) != 0 {
			t.Fatalf("denied publishes delivered: %v", got)
		}
		// still connected and working
		if !pubr.IsOpen() {
			t.Fatal("publisher closed after a violation")
		}
		pubr.Publish("orders.after", nil)
		settle(t, pubr, admin)
		if m := Recv(t, all, 2*time.Second); m.Subject != "orders.after" {
			t.Fatalf("got %s", m.Subject)
		}
	})

	t.Run("SubscribeAllowDeny", func(t *testing.T) {
		subr := Connect(t, s, "subr", nats.UserInfo("subr", "s"))
		_, exact := ChanSub(t, subr, "feed.a", "")
		_, star := ChanSub(t, subr, "feed.*", "") // overlaps deny feed.secret
		_, full := ChanSub(t, subr, "feed.>", "") // overlaps both denies
		ChanSub(t, subr, "feed.secret", "")       // deny wins over the explicit allow
		subr.ExpectErr(t, subErr("feed.secret"), 2*time.Second)
		ChanSub(t, subr, "other.x", "")
		subr.ExpectErr(t, subErr("other.x"), 2*time.Second)
		ChanSub(t, subr, "feed.private.>", "")
		subr.ExpectErr(t, subErr("feed.private.>"), 2*time.Second)
		settle(t, subr)
		for _, subj := range []string{"feed.a", "feed.secret", "feed.private.x", "feed.b.c", "other.x"} {
			admin.Publish(subj, []byte(subj))
		}
		settle(t, admin, subr)
		time.Sleep(50 * time.Millisecond)
		got := map[string][]string{"exact": Drain(exact), "star": Drain(star), "full": Drain(full)}
		want := map[string][]string{"exact": {"feed.a"}, "star": {"feed.a"}, "full": {"feed.a", "feed.b.c"}}
		for k := range want {
			sort.Strings(got[k])
			if strings.Join(got[k], ",") != strings.Join(want[k], ",") {
				t.Errorf("%s subscription got %v, want %v", k, got[k], want[k])
			}
		}
		if !subr.IsOpen() {
			t.Fatal("subscriber closed after violations")
		}
		Drain(all)
	})

	t.Run("QueuePermission", func(t *testing.T) {
		subr := Connect(t, s, "subr-q", nats.UserInfo("subr", "s"))
		_, q := ChanSub(t, subr, "jobs.x", "workers")
		subr.Flush(t)
		subr.NoErr(t)
		ChanSub(t, subr, "jobs.y", "other")
		subr.ExpectErr(t, `nats: Permissions Violation for Subscription to "jobs.y" using queue "other"`, 2*time.Second)
		// a queue-qualified allow entry never allows a plain subscription
		_, plain := ChanSub(t, subr, "jobs.y", "")
		subr.ExpectErr(t, subErr("jobs.y"), 2*time.Second)
		admin.Publish("jobs.x", []byte("1"))
		admin.Publish("jobs.y", []byte("2"))
		settle(t, admin, subr)
		if m := Recv(t, q, 2*time.Second); m.Subject != "jobs.x" {
			t.Fatalf("got %s", m.Subject)
		}
		ExpectNone(t, plain, 100*time.Millisecond)
		Drain(all)
	})

	t.Run("AllowResponses", func(t *testing.T) {
		svc := Connect(t, s, "svc", nats.UserInfo("svc", "v"))
		_, reqs := ChanSub(t, svc, "svc.echo", "")
		svc.Flush(t)
		type res struct {
			m   *nats.Msg
			err error
		}
		done := make(chan res, 1)
		go func() {
			m, err := admin.Request("svc.echo", []byte("ping"), 3*time.Second)
			done <- res{m, err}
		}()
		req := Recv(t, reqs, 3*time.Second)
		if req.Reply == "" {
			t.Fatal("request without reply subject")
		}
		if err := req.Respond([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || string(r.m.Data) != "pong" {
			t.Fatalf("reply: %v %v", r.m, r.err)
		}
		svc.NoErr(t)
		// max 1 response per request: the second one is refused
		svc.Publish(req.Reply, []byte("again"))
		svc.ExpectErr(t, pubErr(req.Reply), 2*time.Second)
		// allow_responses without a publish list: nothing else may be published
		svc.Publish("svc.other", nil)
		svc.ExpectErr(t, pubErr("svc.other"), 2*time.Second)
		svc.Publish("_INBOX.guess.1", nil)
		svc.ExpectErr(t, pubErr("_INBOX.guess.1"), 2*time.Second)
		settle(t, svc, admin)
		time.Sleep(50 * time.Millisecond)
		for _, subj := range Drain(all) {
			if subj != "svc.echo" && !strings.HasPrefix(subj, "_INBOX.") {
				t.Errorf("unexpected delivery %s", subj)
			}
			if subj == "svc.other" || subj == "_INBOX.guess.1" {
				t.Errorf("refused publish delivered: %s", subj)
			}
		}
		if !svc.IsOpen() {
			t.Fatal("service closed after violations")
		}
	})

	t.Run("DefaultPermissions", func(t *testing.T) {
		d := Connect(t, s, "dflt", nats.UserInfo("dflt", "d"))
		_, ch := ChanSub(t, d, "def.>", "")
		d.Flush(t)
		d.NoErr(t)
		d.Publish("def.x", []byte("1"))
		settle(t, d)
		if m := Recv(t, ch, 2*time.Second); m.Subject != "def.x" {
			t.Fatalf("got %s", m.Subject)
		}
		d.Publish("orders.new", nil)
		d.ExpectErr(t, pubErr("orders.new"), 2*time.Second)
		ChanSub(t, d, "orders.>", "")
		d.ExpectErr(t, subErr("orders.>"), 2*time.Second)
		settle(t, d, admin)
		time.Sleep(50 * time.Millisecond)
		for _, subj := range Drain(all) {
			if subj == "orders.new" {
				t.Error("default-permission user published outside def.>")
			}
		}
	})
}
