package securitytest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// HPUB is checked like PUB; allow_responses {max, expires} limits replies.
func TestHeadersAndResponseLimits(t *testing.T) {
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  users: [
    { user: admin, password: a, permissions: { publish: ">", subscribe: ">" } }
    { user: p, password: p, permissions: { publish: { allow: "ok.>", deny: "ok.no" } } }
    { user: svc, password: v, permissions: { subscribe: "svc.>", allow_responses: { max: 2, expires: "1s" } } }
  ]
}`, fastFail()))
	admin := Connect(t, s, "admin", nats.UserInfo("admin", "a"))
	_, all := ChanSub(t, admin, "ok.>", "")
	admin.Flush(t)
	p := Connect(t, s, "p", nats.UserInfo("p", "p"))
	m := nats.NewMsg("ok.no")
	m.Header.Set("X-Test", "1")
	if err := p.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	p.ExpectErr(t, pubErr("ok.no"), 2*time.Second)
	m.Subject = "ok.yes"
	p.PublishMsg(m)
	settle(t, p, admin)
	got := Recv(t, all, 2*time.Second)
	if got.Subject != "ok.yes" || got.Header.Get("X-Test") != "1" {
		t.Fatalf("got %s %v", got.Subject, got.Header)
	}
	ExpectNone(t, all, 50*time.Millisecond)

	svc := Connect(t, s, "svc", nats.UserInfo("svc", "v"))
	_, reqs := ChanSub(t, svc, "svc.x", "")
	_, replies := ChanSub(t, admin, "reply.>", "")
	svc.Flush(t)
	admin.PublishRequest("svc.x", "reply.one", nil)
	admin.PublishRequest("svc.x", "reply.two", nil)
	r1, r2 := Recv(t, reqs, 2*time.Second), Recv(t, reqs, 2*time.Second)
	// max 2: two replies to the first request pass, the third is refused
	svc.Publish(r1.Reply, []byte("1"))
	svc.Publish(r1.Reply, []byte("2"))
	svc.Publish(r1.Reply, []byte("3"))
	svc.ExpectErr(t, pubErr("reply.one"), 2*time.Second)
	settle(t, svc, admin)
	for i := 0; i < 2; i++ {
		if m := Recv(t, replies, 2*time.Second); m.Subject != "reply.one" {
			t.Fatalf("got %s", m.Subject)
		}
	}
	ExpectNone(t, replies, 50*time.Millisecond)
	// expires 1s: a late reply is refused
	time.Sleep(1300 * time.Millisecond)
	svc.Publish(r2.Reply, []byte("late"))
	svc.ExpectErr(t, pubErr("reply.two"), 2*time.Second)
	settle(t, svc, admin)
	ExpectNone(t, replies, 50*time.Millisecond)
}

// A reload that narrows a user's publish permissions applies to the open
// connection.
func TestReloadChangesPermissions(t *testing.T) {
	conf := func(pub string) string {
		return fmt.Sprintf(`authorization { %s
 users: [ { user: u, password: p, permissions: { publish: %s, subscribe: ">" } } ] }`, fastFail(), pub)
	}
	s := StartServer(t, conf(`"a.>"`))
	u := Connect(t, s, "u", nats.UserInfo("u", "p"))
	_, ch := ChanSub(t, u, "a.>", "")
	u.Publish("a.b", nil)
	u.Flush(t)
	Recv(t, ch, 2*time.Second)
	u.NoErr(t)
	s.Reload(conf(`{ allow: "a.>", deny: "a.b" }`))
	waitFor(t, 3*time.Second, "new permissions in force", func() bool {
		u.Publish("a.b", nil)
		u.Flush(t)
		select {
		case err := <-u.errs:
			return err.Error() == pubErr("a.b")
		default:
		}
		Drain(ch)
		return false
	})
	Drain(ch)
	u.Publish("a.c", nil)
	u.Flush(t)
	if m := Recv(t, ch, 2*time.Second); m.Subject != "a.c" {
		t.Fatalf("got %s", m.Subject)
	}
	if !u.IsOpen() {
		t.Fatal("closed by the reload")
	}
}

// A broken revocation file keeps the previous list (fail closed); two
// quick same-size edits are both seen.
func TestRevocationFileBrokenAndQuickEdits(t *testing.T) {
	heraldOnly(t)
	dir := t.TempDir()
	rev := filepath.Join(dir, "revoked.json")
	writeAtomic(t, rev, `{"users": ["alice"]}`)
	s := StartServerIn(t, dir, fmt.Sprintf(`revocation_file: %q
authorization { %s
  users: [ { user: alice, password: a }, { user: bob, password: b }, { user: carl, password: c } ]
}`, rev, fastFail()))
	ExpectAuthFail(t, s, "alice revoked at start", nats.UserInfo("alice", "a"))
	bob := Connect(t, s, "bob", nats.UserInfo("bob", "b"))
	// not JSON, and an unknown key: both keep the previous list
	for _, bad := range []string{`{"users": ["alice"`, `{"user": []}`} {
		writeAtomic(t, rev, bad)
		time.Sleep(600 * time.Millisecond)
		ExpectAuthFail(t, s, "alice with a broken file "+bad, nats.UserInfo("alice", "a"))
		if !bob.IsOpen() {
			t.Fatalf("bob closed after a broken file %s", bad)
		}
		Connect(t, s, "bob2", nats.UserInfo("bob", "b")).Close()
	}
	// two same-size edits in quick succession (in place, not renamed)
	carl := Connect(t, s, "carl", nats.UserInfo("carl", "c"))
	writeAtomic(t, rev, `{"users": ["alice"]}`)
	time.Sleep(600 * time.Millisecond)
	t0 := time.Now()
	if err := writeInPlace(rev, `{"users": ["bobbb"]}`); err != nil {
		t.Fatal(err)
	}
	if err := writeInPlace(rev, `{"users": ["carl"] }`); err != nil {
		t.Fatal(err)
	}
	closed := carl.WaitClosed(t, 3*time.Second)
	t.Logf("MEASURED in-place quick edit: carl closed %v after the write", closed.Sub(t0).Round(time.Millisecond))
	if closed.Sub(t0) > time.Second {
		t.Errorf("quick in-place edit applied after %v", closed.Sub(t0))
	}
	if !bob.IsOpen() {
		t.Fatal("bob closed")
	}
	Connect(t, s, "alice back", nats.UserInfo("alice", "a")).Close()
}
