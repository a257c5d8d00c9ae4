package securitytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func newUserKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

func nkeyOpt(pub string, kp nkeys.KeyPair) nats.Option {
	return nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) })
}

func TestNkeyUser(t *testing.T) {
	kp, pub := newUserKey(t)
	other, otherPub := newUserKey(t)
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  users: [ { nkey: %s }, { user: bob, password: bobpw } ]
}`, fastFail(), pub))

	info := RawInfo(t, s)
	nonce, _ := info["nonce"].(string)
	if nonce == "" || !nonceRE.MatchString(nonce) {
		t.Fatalf("INFO has no usable nonce: %v", info)
	}
	if info["auth_required"] != true {
		t.Fatalf("auth_required not set: %v", info)
	}
	if n2, _ := RawInfo(t, s)["nonce"].(string); n2 == nonce {
		t.Fatalf("nonce repeated across connections: %q", n2)
	}

	c := Connect(t, s, "nkey-user", nkeyOpt(pub, kp))
	_, ch := ChanSub(t, c, "nk.x", "")
	c.Flush(t)
	c.Publish("nk.x", []byte("hi"))
	if m := Recv(t, ch, 3*time.Second); string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}

	// a different seed claiming the configured public key
	ExpectAuthFail(t, s, "wrong seed", nkeyOpt(pub, other))
	// a valid key pair that is not configured
	ExpectAuthFail(t, s, "unknown nkey", nkeyOpt(otherPub, other))
	// a signature over something else than the nonce
	ExpectAuthFail(t, s, "bad signature", nats.Nkey(pub, func(nonce []byte) ([]byte, error) {
		return kp.Sign(append([]byte("x"), nonce...))
	}))
	// no credentials at all
	ExpectAuthFail(t, s, "anonymous")
	// the password user still works beside the nkey user
	Connect(t, s, "bob", nats.UserInfo("bob", "bobpw")).Flush(t)
	if !c.IsOpen() {
		t.Fatal("nkey connection dropped")
	}
}
