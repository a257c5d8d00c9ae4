package securitytest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

func TestBcryptPasswords(t *testing.T) {
	// $2a$ from golang.org/x/crypto/bcrypt (what `nats server passwd` makes)
	hashA, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), 10)
	if err != nil {
		t.Fatal(err)
	}
	users := fmt.Sprintf(`{ user: alice, password: "%s" }`, hashA)
	// $2b$ from Python's crypt module, when it is there (libxcrypt)
	var hashB string
	if out, err := exec.Command("python3", "-W", "ignore", "-c",
		`import crypt; print(crypt.crypt("carol-pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))`).Output(); err == nil &&
		strings.HasPrefix(string(out), "$2b$") {
		hashB = strings.TrimSpace(string(out))
		users += fmt.Sprintf(`, { user: carol, password: "%s" }`, hashB)
	} else {
		t.Logf("python crypt not usable (%v): $2b$ case not run", err)
	}
	users += `, { user: plain, password: "plain-pw" }`
	s := StartServer(t, fmt.Sprintf("authorization { %s\n users: [ %s ] }", fastFail(), users))

	c := Connect(t, s, "alice", nats.UserInfo("alice", "alice-pw"))
	c.Flush(t)
	ExpectAuthFail(t, s, "alice wrong pw", nats.UserInfo("alice", "alice-pW"))
	ExpectAuthFail(t, s, "alice empty pw", nats.UserInfo("alice", ""))
	// the hash itself is not a password
	ExpectAuthFail(t, s, "alice hash as pw", nats.UserInfo("alice", string(hashA)))
	if hashB != "" {
		Connect(t, s, "carol", nats.UserInfo("carol", "carol-pw")).Flush(t)
		ExpectAuthFail(t, s, "carol wrong pw", nats.UserInfo("carol", "alice-pw"))
	}
	Connect(t, s, "plain", nats.UserInfo("plain", "plain-pw")).Flush(t)
	ExpectAuthFail(t, s, "plain wrong pw", nats.UserInfo("plain", "plain-pw2"))
	ExpectAuthFail(t, s, "unknown user", nats.UserInfo("mallory", "alice-pw"))
	// a bcrypt token
	hashT, _ := bcrypt.GenerateFromPassword([]byte("tok-123"), 10)
	s2 := StartServer(t, fmt.Sprintf(`authorization { %s
 token: "%s" }`, fastFail(), hashT))
	Connect(t, s2, "token", nats.Token("tok-123")).Flush(t)
	ExpectAuthFail(t, s2, "wrong token", nats.Token("tok-124"))
}
