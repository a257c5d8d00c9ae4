package securitytest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// tracker records when a client last received a message.
type tracker struct {
	mu    sync.Mutex
	last  time.Time
	count int
}

func (tr *tracker) get() (time.Time, int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.last, tr.count
}

func track(t *testing.T, c *Client, subj string) *tracker {
	t.Helper()
	tr := &tracker{}
	if _, err := c.Subscribe(subj, func(*nats.Msg) {
		tr.mu.Lock()
		tr.last = time.Now()
		tr.count++
		tr.mu.Unlock()
	}); err != nil {
		t.Fatalf("%s: subscribe: %v", c.Name, err)
	}
	c.Flush(t)
	return tr
}

// ticker publishes subj every 2ms from c until the test ends.
func ticker(t *testing.T, c *Client, subj string) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				c.Publish(subj, []byte("tick"))
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// waitMore waits until tr has counted at least n more messages.
func waitMore(t *testing.T, name string, tr *tracker, n int, d time.Duration) {
	t.Helper()
	_, start := tr.get()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, c := tr.get(); c >= start+n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, c := tr.get()
	t.Fatalf("%s: received %d more messages within %v, want %d", name, c-start, d, n)
}

// writeAtomic writes the file through a rename and returns the time just
// before the rename (when the new content becomes visible).
func writeAtomic(t *testing.T, path, content string) time.Time {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return t0
}

// expectCutOff waits for victim's connection to end and asserts that it
// ended, and that its last message arrived, within 1s of t0. On herald,
// wantErr (when not nil) is the -ERR the client must have got first
// (docs/security.md: revoked -> 'User Authentication Revoked', no longer
// configured -> 'Authorization Violation').
func expectCutOff(t *testing.T, what string, victim *Client, tr *tracker, t0 time.Time, wantErr error) {
	t.Helper()
	closed := victim.WaitClosed(t, 3*time.Second)
	last, n := tr.get()
	closeDur := closed.Sub(t0)
	lastDur := last.Sub(t0)
	errs := Drain2(victim)
	t.Logf("MEASURED %s: disconnect %v after the change, last message %v after (of %d received); async errors %q",
		what, closeDur.Round(time.Millisecond), lastDur.Round(time.Millisecond), n, errs)
	if wantErr != nil && isHerald() && !contains(errs, wantErr.Error()) {
		t.Errorf("%s: client got errors %q, want %q", what, errs, wantErr.Error())
	}
	if closeDur >= time.Second {
		t.Errorf("%s: disconnect took %v (>= 1s)", what, closeDur)
	}
	if lastDur >= time.Second {
		t.Errorf("%s: still received messages %v after the change", what, lastDur)
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestRevocationFileUsers(t *testing.T) {
	heraldOnly(t)
	dir := t.TempDir()
	rev := filepath.Join(dir, "revoked.json")
	writeAtomic(t, rev, `{}`)
	s := StartServerIn(t, dir, fmt.Sprintf(`revocation_file: %q
authorization { %s
  users: [ { user: alice, password: a }, { user: bob, password: b }, { user: pub, password: p } ]
}`, rev, fastFail()))
	alice := Connect(t, s, "alice", nats.UserInfo("alice", "a"))
	bob := Connect(t, s, "bob", nats.UserInfo("bob", "b"))
	pub := Connect(t, s, "pub", nats.UserInfo("pub", "p"))
	ta, tb := track(t, alice, "rev.tick"), track(t, bob, "rev.tick")
	ticker(t, pub, "rev.tick")
	waitMore(t, "alice", ta, 20, 3*time.Second)
	waitMore(t, "bob", tb, 20, 3*time.Second)

	t0 := writeAtomic(t, rev, `{"users": ["alice"]}`)
	expectCutOff(t, "revocation_file users:[alice]", alice, ta, t0, nats.ErrAuthRevoked)
	if !bob.IsOpen() || !pub.IsOpen() {
		t.Fatal("other users were disconnected")
	}
	waitMore(t, "bob after alice's revocation", tb, 20, 3*time.Second)
	ExpectAuthFail(t, s, "revoked alice reconnecting", nats.UserInfo("alice", "a"))
	Connect(t, s, "bob2", nats.UserInfo("bob", "b")).Flush(t)

	// users_before: sessions authenticated before the time are cut off, a
	// new session of the same user works
	bob3 := Connect(t, s, "bob3", nats.UserInfo("bob", "b"))
	tb3 := track(t, bob3, "rev.tick")
	time.Sleep(1100 * time.Millisecond) // whole seconds in the file
	cut := time.Now().Unix()
	time.Sleep(1100 * time.Millisecond)
	t0 = writeAtomic(t, rev, fmt.Sprintf(`{"users": ["alice"], "users_before": {"bob": %d}}`, cut))
	expectCutOff(t, "revocation_file users_before bob", bob3, tb3, t0, nats.ErrAuthRevoked)
	bob.WaitClosed(t, 2*time.Second)
	bob4 := Connect(t, s, "bob4", nats.UserInfo("bob", "b"))
	waitMore(t, "new bob session", track(t, bob4, "rev.tick"), 20, 3*time.Second)
	if !pub.IsOpen() {
		t.Fatal("publisher disconnected")
	}
}

func TestReloadRemovesUser(t *testing.T) {
	conf := func(users string) string {
		return fmt.Sprintf("authorization { %s\n users: [ %s ] }", fastFail(), users)
	}
	s := StartServer(t, conf(`{ user: alice, password: a }, { user: bob, password: b }, { user: pub, password: p }`))
	alice := Connect(t, s, "alice", nats.UserInfo("alice", "a"))
	bob := Connect(t, s, "bob", nats.UserInfo("bob", "b"))
	pub := Connect(t, s, "pub", nats.UserInfo("pub", "p"))
	ta, tb := track(t, alice, "rl.tick"), track(t, bob, "rl.tick")
	ticker(t, pub, "rl.tick")
	waitMore(t, "alice", ta, 20, 3*time.Second)
	t0 := s.Reload(conf(`{ user: bob, password: b }, { user: pub, password: p }`))
	expectCutOff(t, "SIGHUP reload removing alice", alice, ta, t0, nats.ErrAuthorization)
	if !bob.IsOpen() {
		t.Fatal("bob disconnected by the reload")
	}
	waitMore(t, "bob after reload", tb, 20, 3*time.Second)
	ExpectAuthFail(t, s, "removed alice", nats.UserInfo("alice", "a"))
}

func TestReloadPasswordRotation(t *testing.T) {
	conf := func(pw string) string {
		return fmt.Sprintf(`authorization { %s
 users: [ { user: bob, password: %s }, { user: pub, password: p } ] }`, fastFail(), pw)
	}
	s := StartServer(t, conf("old-pw"))
	bob := Connect(t, s, "bob", nats.UserInfo("bob", "old-pw"))
	pub := Connect(t, s, "pub", nats.UserInfo("pub", "p"))
	tb := track(t, bob, "rot.tick")
	ticker(t, pub, "rot.tick")
	waitMore(t, "bob", tb, 10, 3*time.Second)
	s.Reload(conf("new-pw"))
	// the reload is applied when a new connection needs the new password
	waitFor(t, 3*time.Second, "new password accepted", func() bool {
		c, err := TryConnect(s, "bob-new", nats.UserInfo("bob", "new-pw"))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	ExpectAuthFail(t, s, "old password after rotation", nats.UserInfo("bob", "old-pw"))
	time.Sleep(1200 * time.Millisecond) // longer than the 1s revalidation bound
	if isHerald() {
		if !bob.IsOpen() {
			t.Fatalf("existing session closed by a password rotation (error %v)", bob.LastError())
		}
		waitMore(t, "bob's old session after rotation", tb, 10, 3*time.Second)
	} else {
		t.Logf("nats-server: old session open after rotation: %v (error %v)", bob.IsOpen(), bob.LastError())
	}
}

func TestReloadRemovesSubscribePermission(t *testing.T) {
	conf := func(sub string) string {
		return fmt.Sprintf(`authorization { %s
 users: [ { user: u, password: p, permissions: { subscribe: %s } }, { user: pub, password: p } ] }`, fastFail(), sub)
	}
	s := StartServer(t, conf(`["orders.>"]`))
	u := Connect(t, s, "u", nats.UserInfo("u", "p"))
	pub := Connect(t, s, "pub", nats.UserInfo("pub", "p"))
	_, sec := ChanSub(t, u, "orders.secret", "")
	_, pubCh := ChanSub(t, u, "orders.public", "")
	u.Flush(t)
	s.Reload(conf(`{ allow: "orders.>", deny: "orders.secret" }`))
	want := `nats: Permissions Violation for Subscription to "orders.secret" (sid `
	deadline := time.After(2 * time.Second)
	for got := false; !got; {
		select {
		case err := <-u.errs:
			got = strings.HasPrefix(err.Error(), want)
			if !got {
				t.Logf("other error: %v", err)
			}
		case <-deadline:
			t.Fatalf("no %q... error within 2s", want)
		}
	}
	pub.Publish("orders.secret", nil)
	pub.Publish("orders.public", nil)
	settle(t, pub, u)
	Recv(t, pubCh, 2*time.Second)
	ExpectNone(t, sec, 100*time.Millisecond)
	if !u.IsOpen() {
		t.Fatal("client closed")
	}
}

// waitFor polls cond until true or the timeout passes.
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
