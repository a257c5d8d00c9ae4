package securitytest

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A revoked client with reconnects enabled (nats.go's default behaviour)
// does not get back in, and receives nothing after the revocation.
func TestRevokedClientReconnecting(t *testing.T) {
	heraldOnly(t)
	dir := t.TempDir()
	rev := filepath.Join(dir, "revoked.json")
	writeAtomic(t, rev, `{}`)
	s := StartServerIn(t, dir, fmt.Sprintf(`revocation_file: %q
authorization { %s
  users: [ { user: alice, password: a }, { user: pub, password: p } ]
}`, rev, fastFail()))
	var reconnects int32
	var last atomic.Value
	nc, err := nats.Connect(s.URL(), nats.UserInfo("alice", "a"), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0),
		nats.ReconnectHandler(func(*nats.Conn) { atomic.AddInt32(&reconnects, 1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe("r.tick", func(*nats.Msg) { last.Store(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	pub := Connect(t, s, "pub", nats.UserInfo("pub", "p"))
	ticker(t, pub, "r.tick")
	waitFor(t, 3*time.Second, "alice receiving", func() bool { return last.Load() != nil })
	t0 := writeAtomic(t, rev, `{"users": ["alice"]}`)
	waitFor(t, 2*time.Second, "alice disconnected", func() bool { return !nc.IsConnected() })
	time.Sleep(1500 * time.Millisecond) // many reconnect attempts (with the failure back-off)
	if n := atomic.LoadInt32(&reconnects); n != 0 || nc.IsConnected() {
		t.Fatalf("revoked client reconnected %d times (connected %v)", n, nc.IsConnected())
	}
	if l := last.Load().(time.Time); l.Sub(t0) >= time.Second {
		t.Fatalf("revoked client received a message %v after the revocation", l.Sub(t0))
	}
	t.Logf("revoked client: last error %v, status %v", nc.LastError(), nc.Status())
	if !pub.IsOpen() {
		t.Fatal("publisher closed")
	}
}
