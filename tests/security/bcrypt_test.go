package securitytest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// A bcrypt check takes long (2^cost rounds); it must not hold up the other
// clients of the server while it runs (nats-server runs it in the
// connecting client's goroutine; herald on an authentication pool).
func TestBcryptCheckDoesNotStallOtherClients(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("slow-pw"), 13)
	if err != nil {
		t.Fatal(err)
	}
	s := StartServer(t, fmt.Sprintf(`authorization { %s
 users: [ { user: slow, password: "%s" }, { user: fast, password: "fast-pw" } ] }`, fastFail(), hash))
	// Several fast clients, so some share an I/O thread with the slow ones.
	var fast []*Client
	for i := 0; i < 6; i++ {
		fast = append(fast, Connect(t, s, fmt.Sprintf("fast%d", i), nats.UserInfo("fast", "fast-pw")))
	}
	for _, c := range fast {
		c.Flush(t)
	}
	// Three slow logins (and one with a wrong password) while the fast
	// clients keep doing round trips.
	type result struct {
		took time.Duration
		err  error
	}
	results := make(chan result, 4)
	for i := 0; i < 4; i++ {
		pw := "slow-pw"
		if i == 3 {
			pw = "wrong-pw"
		}
		go func(i int, pw string) {
			start := time.Now()
			// A generous timeout: four cost-13 checks share two low-priority
			// threads, which a busy machine can slow past nats.go's defaults.
			c, err := TryConnect(s, fmt.Sprintf("slow%d", i), nats.UserInfo("slow", pw),
				nats.Timeout(30*time.Second))
			if err == nil {
				err = c.Conn.Flush()
				c.Close()
			}
			results <- result{time.Since(start), err}
		}(i, pw)
	}
	var worst time.Duration
	done := 0
	var slowest time.Duration
	failures := 0
	deadline := time.Now().Add(60 * time.Second)
	for done < 4 && time.Now().Before(deadline) {
		for _, c := range fast {
			start := time.Now()
			if err := c.Conn.FlushTimeout(10 * time.Second); err != nil {
				t.Fatalf("%s: round trip failed: %v", c.Name, err)
			}
			if d := time.Since(start); d > worst {
				worst = d
			}
		}
		time.Sleep(2 * time.Millisecond)
		for {
			select {
			case r := <-results:
				done++
				if r.err != nil {
					failures++
					t.Logf("login failed after %v: %v", r.took, r.err)
				} else if r.took > slowest {
					slowest = r.took
				}
				continue
			default:
			}
			break
		}
	}
	if done < 4 {
		t.Fatalf("slow logins did not finish")
	}
	if failures != 1 {
		t.Fatalf("want exactly the wrong password refused, got %d failures", failures)
	}
	t.Logf("slowest bcrypt login %v, worst round trip of the other clients %v", slowest, worst)
	if slowest < 400*time.Millisecond {
		t.Skipf("bcrypt too fast here (%v) to tell a stall from noise", slowest)
	}
	if worst > slowest/2 {
		t.Fatalf("other clients stalled %v while bcrypt logins took %v", worst, slowest)
	}
}
