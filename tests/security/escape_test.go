package securitytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A user allowed to subscribe only to public.> must never see secret.x,
// whatever it subscribes to (plain or queue); refusal or filtering are both
// fine, delivery is not.
func TestNoEscapes(t *testing.T) {
	s := StartServer(t, fmt.Sprintf(`authorization { %s
  users: [
    { user: admin, password: a, permissions: { publish: ">", subscribe: ">" } }
    { user: pub, password: p, permissions: { publish: "public.>", subscribe: "public.>" } }
    { user: qf, password: q, permissions: { subscribe: { allow: "data.>", deny: "data.secret" } } }
  ]
}`, fastFail()))
	admin := Connect(t, s, "admin", nats.UserInfo("admin", "a"))
	u := Connect(t, s, "pub", nats.UserInfo("pub", "p"))

	type sub struct{ subj, queue string }
	cases := []sub{
		{">", ""}, {"*", ""}, {"*.x", ""}, {"*.>", ""}, {"secret.>", ""}, {"secret.x", ""},
		{">", "g1"}, {"*.x", "g2"}, {"secret.x", "g3"}, {"public.>", ""}, {"public.>", "g4"},
	}
	chans := map[sub]chan *nats.Msg{}
	for _, c := range cases {
		_, ch := ChanSub(t, u, c.subj, c.queue)
		chans[c] = ch
	}
	settle(t, u)
	refused := Drain2(u)
	t.Logf("refused subscriptions: %v", refused)
	// the always-refused ones (not a subset of public.> by any reading)
	for _, want := range []string{subErr("secret.>"), subErr("secret.x")} {
		if !contains(refused, want) {
			t.Errorf("missing violation %q", want)
		}
	}
	const n = 20
	for i := 0; i < n; i++ {
		admin.Publish("secret.x", []byte("s"))
		admin.Publish("public.x", []byte("p"))
	}
	settle(t, admin, u)
	time.Sleep(100 * time.Millisecond)
	for c, ch := range chans {
		got := Drain(ch)
		for _, subj := range got {
			if subj != "public.x" {
				t.Errorf("subscription %q queue %q received %s", c.subj, c.queue, subj)
			}
		}
		if c.subj == "public.>" && len(got) != n {
			t.Errorf("allowed subscription %q queue %q got %d of %d public.x", c.subj, c.queue, len(got), n)
		}
	}
	if !u.IsOpen() {
		t.Fatal("restricted client closed")
	}

	// a queue group shared with an unrestricted member: the filtered member
	// gets nothing it may not see, and no message is lost for the group
	qf := Connect(t, s, "qf", nats.UserInfo("qf", "q"))
	_, qfCh := ChanSub(t, qf, "data.*", "grp")
	_, adCh := ChanSub(t, admin, "data.*", "grp")
	settle(t, qf, admin)
	qf.NoErr(t)
	for i := 0; i < n; i++ {
		admin.Publish("data.secret", []byte("s"))
	}
	settle(t, admin, qf)
	got := 0
	deadline := time.After(2 * time.Second)
	for got < n {
		select {
		case <-adCh:
			got++
		case <-deadline:
			t.Fatalf("unrestricted queue member got %d of %d data.secret (messages lost to the filtered member)", got, n)
		}
	}
	if leaked := Drain(qfCh); len(leaked) != 0 {
		t.Fatalf("filtered queue member received %v", leaked)
	}
	for i := 0; i < n; i++ {
		admin.Publish("data.open", []byte("o"))
	}
	settle(t, admin, qf)
	time.Sleep(50 * time.Millisecond)
	a, b := len(Drain(adCh)), len(Drain(qfCh))
	if a+b != n {
		t.Fatalf("data.open: %d + %d deliveries, want %d", a, b, n)
	}
}

// Drain2 returns the texts of all queued async errors.
func Drain2(c *Client) []string {
	var out []string
	for {
		select {
		case err := <-c.errs:
			out = append(out, err.Error())
		default:
			return out
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
