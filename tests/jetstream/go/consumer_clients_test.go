package jetstreamtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Consumers through the nats.go client API (pull Fetch, push Subscribe,
// queue groups, deliver policies, redelivery limits, the ordered consumer,
// durable progress across restarts and leader kills, bad input), validated
// against nats-server 2.9.10.

// publishN publishes n messages (synchronously, PubAck checked) with
// payloads "<prefix>-<k>" on subj(k), k = 1..n.
func publishN(t *testing.T, js nats.JetStreamContext, n int, prefix string, subj func(k int) string) {
	t.Helper()
	for k := 1; k <= n; k++ {
		if _, err := js.Publish(subj(k), []byte(fmt.Sprintf("%s-%d", prefix, k))); err != nil {
			t.Fatalf("publish %d: %v", k, err)
		}
	}
}

// publishAsyncN publishes n messages with PublishAsync and waits (bounded)
// for every PubAck.
func publishAsyncN(t *testing.T, js nats.JetStreamContext, n int, prefix string, subj func(k int) string, timeout time.Duration) {
	t.Helper()
	var futs []nats.PubAckFuture
	for k := 1; k <= n; k++ {
		var f nats.PubAckFuture
		var err error
		for stalled := time.Now(); ; {
			f, err = js.PublishAsync(subj(k), []byte(fmt.Sprintf("%s-%d", prefix, k)))
			// The client gives up after 200ms at its max pending: try again.
			if err == nil || !strings.Contains(err.Error(), "stalled with too many outstanding") || time.Since(stalled) > timeout {
				break
			}
		}
		if err != nil {
			t.Fatalf("publish async %d: %v", k, err)
		}
		futs = append(futs, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(timeout):
		t.Fatalf("async publishes not acknowledged within %v", timeout)
	}
	for i, f := range futs {
		select {
		case pa := <-f.Ok():
			if pa.Sequence != uint64(i+1) {
				t.Fatalf("publish %d got sequence %d", i+1, pa.Sequence)
			}
		case err := <-f.Err():
			t.Fatalf("publish %d: %v", i+1, err)
		default:
			t.Fatalf("publish %d: no PubAck", i+1)
		}
	}
}

func mustMeta(t *testing.T, m *nats.Msg) *nats.MsgMetadata {
	t.Helper()
	md, err := m.Metadata()
	if err != nil {
		t.Fatalf("metadata of %q (reply %q): %v", m.Subject, m.Reply, err)
	}
	return md
}

// collectSync reads want messages from a sync subscription (acking each),
// then makes sure nothing else arrives within quiet. Returns stream seqs.
func collectSync(t *testing.T, sub *nats.Subscription, want int, quiet time.Duration) []uint64 {
	t.Helper()
	var got []uint64
	for len(got) < want {
		m, err := sub.NextMsg(3 * time.Second)
		if err != nil {
			t.Fatalf("after %v: want %d messages: %v", got, want, err)
		}
		got = append(got, mustMeta(t, m).Sequence.Stream)
		m.Ack()
	}
	if m, err := sub.NextMsg(quiet); err == nil {
		t.Fatalf("after %v: unexpected extra message seq %d", got, mustMeta(t, m).Sequence.Stream)
	} else if err != nats.ErrTimeout {
		t.Fatalf("after %v: %v", got, err)
	}
	return got
}

func seqList(a, b uint64) []uint64 {
	var s []uint64
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

func eqSeqs(a, b []uint64) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// 1. Pull consumer: Fetch(10) batches over 1000 messages with Ack.
func TestClientPullFetch(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "pull")
	const total = 1000
	if _, err := js.AddStream(&nats.StreamConfig{Name: "PF", Subjects: []string{"pf.>"}}); err != nil {
		t.Fatal(err)
	}
	publishAsyncN(t, js, total, "pf", func(k int) string { return fmt.Sprintf("pf.%d", k%5) }, 20*time.Second)
	sub, err := js.PullSubscribe("pf.>", "pdur", nats.AckExplicit())
	if err != nil {
		t.Fatalf("pull subscribe: %v", err)
	}
	next := uint64(1)
	for batch := 0; next <= total; batch++ {
		if batch > total {
			t.Fatalf("too many batches")
		}
		msgs, err := sub.Fetch(10, nats.MaxWait(3*time.Second))
		if err != nil {
			t.Fatalf("fetch at %d: %v", next, err)
		}
		if len(msgs) != 10 {
			t.Fatalf("fetch at %d: %d messages, want 10", next, len(msgs))
		}
		for _, m := range msgs {
			md := mustMeta(t, m)
			if md.Sequence.Stream != next || md.Sequence.Consumer != next || md.NumDelivered != 1 ||
				md.NumPending != total-next || md.Stream != "PF" || md.Consumer != "pdur" {
				t.Fatalf("message %d: metadata %+v", next, md)
			}
			if want := fmt.Sprintf("pf-%d", next); string(m.Data) != want || m.Subject != fmt.Sprintf("pf.%d", next%5) {
				t.Fatalf("message %d: %s %q", next, m.Subject, m.Data)
			}
			if err := m.Ack(); err != nil {
				t.Fatalf("ack %d: %v", next, err)
			}
			next++
		}
	}
	// Nothing more: a fetch times out empty.
	if msgs, err := sub.Fetch(1, nats.MaxWait(500*time.Millisecond)); err != nats.ErrTimeout || len(msgs) != 0 {
		t.Fatalf("extra fetch: %d messages, err %v", len(msgs), err)
	}
	waitFor(t, 10*time.Second, "consumer info settled", func() error {
		ci, err := js.ConsumerInfo("PF", "pdur")
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream != total || ci.AckFloor.Consumer != total || ci.Delivered.Stream != total ||
			ci.Delivered.Consumer != total || ci.NumPending != 0 || ci.NumAckPending != 0 || ci.NumRedelivered != 0 {
			return fmt.Errorf("delivered %+v ack floor %+v pending %d ack pending %d redelivered %d",
				ci.Delivered, ci.AckFloor, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
		}
		return nil
	})
}

// 2. Push: js.Subscribe durable with manual AckSync; js.QueueSubscribe with
// three members sharing one consumer.
func TestClientPushAndQueue(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "push")
	const total = 1000
	if _, err := js.AddStream(&nats.StreamConfig{Name: "PS", Subjects: []string{"ps.>"}}); err != nil {
		t.Fatal(err)
	}
	publishAsyncN(t, js, total, "ps", func(k int) string { return fmt.Sprintf("ps.%d", k%3) }, 20*time.Second)

	// Durable push, manual AckSync, in order.
	var mu sync.Mutex
	var order []uint64
	var ackErrs []string
	sub, err := js.Subscribe("ps.>", func(m *nats.Msg) {
		md, err := m.Metadata()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			ackErrs = append(ackErrs, err.Error())
			return
		}
		order = append(order, md.Sequence.Stream)
		if err := m.AckSync(nats.AckWait(3 * time.Second)); err != nil {
			ackErrs = append(ackErrs, fmt.Sprintf("%d: %v", md.Sequence.Stream, err))
		}
	}, nats.Durable("pushdur"), nats.ManualAck(), nats.AckExplicit())
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	waitFor(t, 30*time.Second, "push deliveries", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(ackErrs) > 0 {
			return nil
		}
		if len(order) < total {
			return fmt.Errorf("%d delivered", len(order))
		}
		return nil
	})
	mu.Lock()
	if len(ackErrs) > 0 {
		t.Fatalf("ack errors: %v", ackErrs)
	}
	if !eqSeqs(order, seqList(1, total)) {
		t.Fatalf("push order: got %d messages, first %v", len(order), order[:10])
	}
	mu.Unlock()
	waitFor(t, 10*time.Second, "push consumer acked", func() error {
		ci, err := js.ConsumerInfo("PS", "pushdur")
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream != total || ci.NumAckPending != 0 || ci.NumPending != 0 || ci.Config.DeliverSubject == "" {
			return fmt.Errorf("ack floor %+v ack pending %d pending %d", ci.AckFloor, ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
	sub.Unsubscribe()

	// Queue group of three members (separate connections) on one durable,
	// subscribed before the messages are published (so that all get some).
	counts := map[uint64]int{}
	perMember := make([]int, 3)
	for i := 0; i < 3; i++ {
		i := i
		_, mjs := connect(t, n.URL(), fmt.Sprintf("q%d", i))
		_, err := mjs.QueueSubscribe("ps.q.>", "grp", func(m *nats.Msg) {
			md, err := m.Metadata()
			if err != nil {
				return
			}
			mu.Lock()
			counts[md.Sequence.Stream]++
			perMember[i]++
			mu.Unlock()
			m.Ack()
		}, nats.Durable("qdur"), nats.ManualAck())
		if err != nil {
			t.Fatalf("queue subscribe %d: %v", i, err)
		}
	}
	publishN(t, js, total, "q", func(k int) string { return fmt.Sprintf("ps.q.%d", k%4) })
	waitFor(t, 30*time.Second, "queue deliveries", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(counts) < total {
			return fmt.Errorf("%d distinct delivered", len(counts))
		}
		return nil
	})
	// Let redeliveries (if any) show: wait until the consumer reports all acked.
	waitFor(t, 10*time.Second, "queue consumer acked", func() error {
		ci, err := js.ConsumerInfo("PS", "qdur")
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream != 2*total || ci.NumAckPending != 0 || ci.Config.DeliverGroup != "grp" {
			return fmt.Errorf("ack floor %+v ack pending %d group %q", ci.AckFloor, ci.NumAckPending, ci.Config.DeliverGroup)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for s := uint64(total + 1); s <= 2*total; s++ {
		if counts[s] != 1 {
			t.Fatalf("seq %d delivered %d times across the group", s, counts[s])
		}
	}
	for i, c := range perMember {
		if c == 0 {
			t.Fatalf("member %d got nothing (per member %v)", i, perMember)
		}
	}
	t.Logf("queue members got %v", perMember)
}

// 3. Deliver policies through nats.go options.
func TestClientDeliverPolicies(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "dp")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "DP", Subjects: []string{"dp.>"}}); err != nil {
		t.Fatal(err)
	}
	subjs := []string{"", "dp.a", "dp.b", "dp.a", "dp.c", "dp.b"}
	publishN(t, js, 3, "dp", func(k int) string { return subjs[k] })
	// Messages 4 and 5 later; StartTime is message 4's stored time.
	for k := 4; k <= 5; k++ {
		time.Sleep(20 * time.Millisecond) // separates the timestamps (not an assertion)
		if _, err := js.Publish(subjs[k], []byte(fmt.Sprintf("dp-%d", k))); err != nil {
			t.Fatal(err)
		}
	}
	m4, err := js.GetMsg("DP", 4)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opt  nats.SubOpt
		want []uint64
	}{
		{"all", nats.DeliverAll(), seqList(1, 5)},
		{"last", nats.DeliverLast(), []uint64{5}},
		{"start_seq", nats.StartSequence(2), seqList(2, 5)},
		{"start_time", nats.StartTime(m4.Time), seqList(4, 5)},
		{"last_per_subject", nats.DeliverLastPerSubject(), []uint64{3, 4, 5}},
		{"new", nats.DeliverNew(), nil},
	}
	for _, tc := range cases {
		sub, err := js.SubscribeSync("dp.>", tc.opt, nats.AckExplicit())
		if err != nil {
			t.Fatalf("%s: subscribe: %v", tc.name, err)
		}
		got := collectSync(t, sub, len(tc.want), 500*time.Millisecond)
		if !eqSeqs(got, tc.want) {
			t.Fatalf("%s: got %v want %v", tc.name, got, tc.want)
		}
		if tc.name == "new" {
			if _, err := js.Publish("dp.d", []byte("dp-6")); err != nil {
				t.Fatal(err)
			}
			got := collectSync(t, sub, 1, 300*time.Millisecond)
			if !eqSeqs(got, []uint64{6}) {
				t.Fatalf("new: got %v want [6]", got)
			}
		}
		sub.Unsubscribe()
	}
	// The same through pull consumers (durables), fetch all that is there.
	pcases := []struct {
		name string
		opt  nats.SubOpt
		want []uint64
	}{
		{"p_last", nats.DeliverLast(), []uint64{6}},
		{"p_start_seq", nats.StartSequence(5), []uint64{5, 6}},
		{"p_last_per_subject", nats.DeliverLastPerSubject(), []uint64{3, 4, 5, 6}},
		{"p_start_time", nats.StartTime(m4.Time), []uint64{4, 5, 6}},
	}
	for _, tc := range pcases {
		sub, err := js.PullSubscribe("dp.>", tc.name, tc.opt)
		if err != nil {
			t.Fatalf("%s: pull subscribe: %v", tc.name, err)
		}
		msgs, err := sub.Fetch(10, nats.MaxWait(700*time.Millisecond))
		if err != nil && err != nats.ErrTimeout {
			t.Fatalf("%s: fetch: %v", tc.name, err)
		}
		var got []uint64
		for _, m := range msgs {
			got = append(got, mustMeta(t, m).Sequence.Stream)
		}
		if !eqSeqs(got, tc.want) {
			t.Fatalf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

// 4. MaxDeliver, BackOff, MaxAckPending, and the ack kinds.
func TestClientRedeliveryLimits(t *testing.T) {
	n := StartSingle(t)
	nc, js := connect(t, n.URL(), "rd")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "RD", Subjects: []string{"rd.>"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("max_deliver", func(t *testing.T) {
		adv, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.RD.md")
		if err != nil {
			t.Fatal(err)
		}
		defer adv.Unsubscribe()
		if _, err := js.Publish("rd.md", []byte("never-acked")); err != nil {
			t.Fatal(err)
		}
		sub, err := js.PullSubscribe("rd.md", "md", nats.AckWait(time.Second), nats.MaxDeliver(3))
		if err != nil {
			t.Fatal(err)
		}
		var deliveries []uint64
		var times []time.Time
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && len(deliveries) < 3 {
			msgs, _ := sub.Fetch(1, nats.MaxWait(1500*time.Millisecond))
			for _, m := range msgs {
				deliveries = append(deliveries, mustMeta(t, m).NumDelivered)
				times = append(times, time.Now())
			}
		}
		if !eqSeqs(deliveries, []uint64{1, 2, 3}) {
			t.Fatalf("deliveries (num_delivered) %v, want [1 2 3]", deliveries)
		}
		for i := 1; i < len(times); i++ {
			if g := times[i].Sub(times[i-1]); g < 800*time.Millisecond {
				t.Fatalf("redelivery %d after %v (ack_wait 1s)", i+1, g)
			}
		}
		// No fourth delivery within 2.5 ack waits.
		if msgs, _ := sub.Fetch(1, nats.MaxWait(2500*time.Millisecond)); len(msgs) != 0 {
			t.Fatalf("delivery beyond max_deliver: %+v", mustMeta(t, msgs[0]))
		}
		am, err := adv.NextMsg(2 * time.Second)
		if err != nil {
			t.Errorf("max deliveries advisory: %v", err)
			am = &nats.Msg{Data: []byte("{}")}
		}
		var a struct {
			Type       string `json:"type"`
			Stream     string `json:"stream"`
			Consumer   string `json:"consumer"`
			StreamSeq  uint64 `json:"stream_seq"`
			Deliveries uint64 `json:"deliveries"`
		}
		if err := json.Unmarshal(am.Data, &a); err != nil || a.Type != "io.nats.jetstream.advisory.v1.max_deliver" ||
			a.Stream != "RD" || a.Consumer != "md" || a.StreamSeq != 1 || a.Deliveries != 3 {
			t.Errorf("advisory %s (%v)", am.Data, err)
		}
		// nats-server 2.9.10: the message leaves the pending set (ack pending 0),
		// the ack floor stays 0, one message counted as redelivered.
		waitFor(t, 5*time.Second, "consumer state after max_deliver", func() error {
			ci, err := js.ConsumerInfo("RD", "md")
			if err != nil {
				return err
			}
			if ci.Delivered.Consumer != 3 || ci.Delivered.Stream != 1 || ci.NumPending != 0 || ci.NumAckPending != 0 ||
				ci.NumRedelivered != 1 || ci.AckFloor.Stream != 0 || ci.AckFloor.Consumer != 0 {
				return fmt.Errorf("delivered %+v pending %d ack pending %d redelivered %d ack floor %+v",
					ci.Delivered, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.AckFloor)
			}
			return nil
		})
	})

	t.Run("backoff", func(t *testing.T) {
		if _, err := js.Publish("rd.bo", []byte("backoff")); err != nil {
			t.Fatal(err)
		}
		backoff := []time.Duration{300 * time.Millisecond, 800 * time.Millisecond, 1500 * time.Millisecond}
		sub, err := js.SubscribeSync("rd.bo", nats.Durable("bo"), nats.AckExplicit(), nats.BackOff(backoff), nats.MaxDeliver(4))
		if err != nil {
			t.Fatal(err)
		}
		ci, err := js.ConsumerInfo("RD", "bo")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ci.Config.BackOff) != fmt.Sprint(backoff) || ci.Config.AckWait != backoff[0] {
			t.Fatalf("config backoff %v ack_wait %v", ci.Config.BackOff, ci.Config.AckWait)
		}
		var times []time.Time
		var dels []uint64
		for len(dels) < 4 {
			m, err := sub.NextMsg(4 * time.Second)
			if err != nil {
				t.Fatalf("after deliveries %v: %v", dels, err)
			}
			times = append(times, time.Now())
			dels = append(dels, mustMeta(t, m).NumDelivered)
		}
		if !eqSeqs(dels, []uint64{1, 2, 3, 4}) {
			t.Fatalf("deliveries %v", dels)
		}
		var gaps []string
		for i := 1; i < 4; i++ {
			g := times[i].Sub(times[i-1])
			gaps = append(gaps, g.Round(time.Millisecond).String())
			if g < backoff[i-1]*7/10 {
				t.Fatalf("gap %d = %v, backoff %v", i, g, backoff[i-1])
			}
			if g > backoff[i-1]+2*time.Second {
				t.Fatalf("gap %d = %v, backoff %v (far too late)", i, g, backoff[i-1])
			}
		}
		t.Logf("backoff gaps %v", gaps)
		if m, err := sub.NextMsg(2500 * time.Millisecond); err == nil {
			t.Fatalf("fifth delivery %+v", mustMeta(t, m))
		}
	})

	t.Run("max_ack_pending_push", func(t *testing.T) {
		publishN(t, js, 50, "map", func(int) string { return "rd.map" })
		sub, err := js.SubscribeSync("rd.map", nats.Durable("mapp"), nats.AckExplicit(), nats.MaxAckPending(10), nats.AckWait(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var held []*nats.Msg
		recv := func(k int) {
			for i := 0; i < k; i++ {
				m, err := sub.NextMsg(3 * time.Second)
				if err != nil {
					t.Fatalf("after %d held: %v", len(held), err)
				}
				held = append(held, m)
			}
			if m, err := sub.NextMsg(700 * time.Millisecond); err == nil {
				t.Fatalf("message beyond max_ack_pending: seq %d with %d outstanding", mustMeta(t, m).Sequence.Stream, len(held))
			}
		}
		recv(10)
		for _, m := range held[:4] {
			if err := m.AckSync(); err != nil {
				t.Fatal(err)
			}
		}
		held = held[4:]
		recv(4)
		ci, _ := js.ConsumerInfo("RD", "mapp")
		if ci == nil || ci.NumAckPending != 10 {
			t.Fatalf("consumer info ack pending %+v", ci)
		}
		for len(held) > 0 {
			for _, m := range held {
				m.Ack()
			}
			held = nil
			for i := 0; i < 10; i++ {
				m, err := sub.NextMsg(300 * time.Millisecond)
				if err != nil {
					break
				}
				held = append(held, m)
			}
			if len(held) > 10 {
				t.Fatalf("%d outstanding", len(held))
			}
		}
		waitFor(t, 10*time.Second, "all 50 acked", func() error {
			ci, err := js.ConsumerInfo("RD", "mapp")
			if err != nil {
				return err
			}
			if ci.AckFloor.Stream == 0 || ci.Delivered.Consumer != 50 || ci.NumAckPending != 0 {
				return fmt.Errorf("delivered %+v ack floor %+v ack pending %d", ci.Delivered, ci.AckFloor, ci.NumAckPending)
			}
			return nil
		})
	})

	t.Run("max_ack_pending_pull", func(t *testing.T) {
		publishN(t, js, 30, "mapl", func(int) string { return "rd.mapl" })
		sub, err := js.PullSubscribe("rd.mapl", "mapl", nats.MaxAckPending(10), nats.AckWait(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := sub.Fetch(10, nats.MaxWait(2*time.Second))
		if err != nil || len(msgs) != 10 {
			t.Fatalf("fetch 10: %d %v", len(msgs), err)
		}
		more, err := sub.Fetch(5, nats.MaxWait(700*time.Millisecond))
		if len(more) != 0 {
			t.Fatalf("fetch beyond max_ack_pending: %d messages (%v)", len(more), err)
		}
		t.Logf("fetch beyond max_ack_pending: %v", err)
		for _, m := range msgs[:3] {
			m.AckSync()
		}
		more, err = sub.Fetch(5, nats.MaxWait(700*time.Millisecond))
		if len(more) != 3 || mustMeta(t, more[0]).Sequence.Consumer != 11 {
			t.Fatalf("after 3 acks: %d messages (%v)", len(more), err)
		}
		// A request for more than max_ack_pending at once (raw).
		inbox := nats.NewInbox()
		rs, _ := nc.SubscribeSync(inbox)
		defer rs.Unsubscribe()
		nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.RD.mapl", inbox, []byte(`{"batch":50,"expires":500000000}`))
		var got []string
		for {
			m, err := rs.NextMsg(1500 * time.Millisecond)
			if err != nil {
				break
			}
			got = append(got, fmt.Sprintf("%q/%s/%s", m.Subject, m.Header.Get("Status"), m.Header.Get("Description")))
		}
		t.Logf("batch 50 with max_ack_pending 10 and 10 outstanding: %v", got)
		// nats-server 2.9.10: the request waits (no 409) and expires with a 408.
		if len(got) != 1 || !strings.HasSuffix(got[0], "/408/Request Timeout") {
			t.Fatalf("batch 50 over max_ack_pending: %v, want one 408 Request Timeout", got)
		}
	})

	t.Run("ack_kinds", func(t *testing.T) {
		publishN(t, js, 4, "ak", func(int) string { return "rd.ak" })
		sub, err := js.PullSubscribe("rd.ak", "ak", nats.AckWait(2*time.Second), nats.MaxDeliver(5))
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := sub.Fetch(4, nats.MaxWait(2*time.Second))
		if err != nil || len(msgs) != 4 {
			t.Fatalf("fetch: %d %v", len(msgs), err)
		}
		t0 := time.Now()
		msgs[0].Nak()                         // seq 1: redelivered at once
		msgs[1].NakWithDelay(1 * time.Second) // seq 2: after ~1s
		msgs[2].Term()                        // seq 3: never again
		msgs[3].InProgress()                  // seq 4: ack wait restarted, then acked
		base := mustMeta(t, msgs[0]).Sequence.Stream - 1
		type d struct {
			seq uint64
			n   uint64
			at  time.Duration
		}
		var ds []d
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && len(ds) < 2 {
			ms, _ := sub.Fetch(1, nats.MaxWait(500*time.Millisecond))
			for _, m := range ms {
				md := mustMeta(t, m)
				ds = append(ds, d{md.Sequence.Stream - base, md.NumDelivered, time.Since(t0)})
				m.AckSync()
			}
			if len(ds) == 0 && time.Since(t0) > 1500*time.Millisecond {
				msgs[3].InProgress()
			}
		}
		msgs[3].AckSync()
		t.Logf("redeliveries after nak/nak-delay/term/wpi: %+v", ds)
		if len(ds) != 2 || ds[0].seq != 1 || ds[0].n != 2 || ds[0].at > 700*time.Millisecond ||
			ds[1].seq != 2 || ds[1].n != 2 || ds[1].at < 800*time.Millisecond {
			t.Fatalf("redeliveries %+v, want seq 1 (at once) then seq 2 (after ~1s)", ds)
		}
		if ms, _ := sub.Fetch(1, nats.MaxWait(2500*time.Millisecond)); len(ms) != 0 {
			t.Fatalf("unexpected delivery %+v", mustMeta(t, ms[0]))
		}
		ci, err := js.ConsumerInfo("RD", "ak")
		if err != nil {
			t.Fatal(err)
		}
		if ci.NumAckPending != 0 || ci.AckFloor.Stream != base+4 {
			t.Fatalf("ack pending %d ack floor %+v", ci.NumAckPending, ci.AckFloor)
		}
	})
}

// 8. Bad input: the server answers as nats-server does and keeps serving.
func TestClientBadInput(t *testing.T) {
	n := StartSingle(t)
	nc, js := connect(t, n.URL(), "bad")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, 5, "s", func(int) string { return "s.x" })
	sub, err := js.PullSubscribe("s.>", "C", nats.AckWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	describe := func(m *nats.Msg, err error) string {
		if err != nil {
			if errors.Is(err, nats.ErrNoResponders) {
				return "no responders"
			}
			if errors.Is(err, nats.ErrTimeout) {
				return "timeout"
			}
			return "error " + err.Error()
		}
		s := fmt.Sprintf("data %q", m.Data)
		if st := m.Header.Get("Status"); st != "" {
			s += fmt.Sprintf(" status %s %q", st, m.Header.Get("Description"))
		}
		return s
	}
	req := func(subj, body string) string {
		return describe(nc.Request(subj, []byte(body), time.Second))
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %s, want %s", what, got, want)
		} else {
			t.Logf("%s: %s", what, got)
		}
	}

	msgs, err := sub.Fetch(2, nats.MaxWait(2*time.Second))
	if err != nil || len(msgs) != 2 {
		t.Fatalf("fetch: %d %v", len(msgs), err)
	}
	reply := msgs[0].Reply
	// Acks to subjects no consumer listens on.
	check("ack for unknown consumer", req(strings.Replace(reply, ".S.C.", ".S.NOPE.", 1), "+ACK"), "no responders")
	check("ack for unknown stream", req(strings.Replace(reply, ".S.C.", ".NOPE.C.", 1), "+ACK"), "no responders")
	// Double ack (raw, the client refuses a second ack itself).
	check("first ack", req(reply, "+ACK"), `data ""`)
	check("second ack of the same message", req(reply, "+ACK"), `data ""`)
	// The client does not know of the raw acks: AckSync asks the server again.
	if err := msgs[0].AckSync(); err != nil {
		t.Errorf("AckSync of an already acked message: %v", err)
	}
	check("nak of an acked message", req(reply, "-NAK"), `data ""`)
	check("term of an acked message", req(reply, "+TERM"), `data ""`)
	check("unknown ack kind", req(msgs[1].Reply, "+WHAT"), `data ""`)
	check("ack with a bogus sequence", req(strings.Replace(msgs[1].Reply, ".S.C.1.2.2.", ".S.C.1.999.999.", 1), "+ACK"), `data ""`)
	check("too few ack tokens", req("$JS.ACK.S.C.1.2", "+ACK"), "no responders")
	// The acked message does not come back; seq 2 (its only "ack" was the
	// unknown kind "+WHAT", which nats-server ignores) comes back after ack_wait.
	waitFor(t, 10*time.Second, "seq 2 redelivered", func() error {
		ms, _ := sub.Fetch(1, nats.MaxWait(time.Second))
		if len(ms) == 0 {
			return fmt.Errorf("nothing")
		}
		md := mustMeta(t, ms[0])
		ms[0].AckSync()
		if md.Sequence.Stream == 1 {
			t.Fatalf("acked seq 1 redelivered")
		}
		if md.Sequence.Stream != 2 {
			return fmt.Errorf("got seq %d", md.Sequence.Stream)
		}
		if md.NumDelivered != 2 {
			t.Fatalf("seq 2 num_delivered %d", md.NumDelivered)
		}
		return nil
	})
	// A fresh consumer for each pull request body.
	for _, name := range []string{"C2", "C3", "C4"} {
		if _, err := js.AddConsumer("S", &nats.ConsumerConfig{Durable: name, AckPolicy: nats.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
	}
	// Pull requests with bad bodies.
	// nats-server 2.9.10: a body that does not start with '{' is read as a
	// batch number (unparsable: 1); a batch <= 0 is 1; an unknown consumer's
	// pull request is dropped by the API handler (no reply, no 503).
	// A body that does not decode gets Go's json.Unmarshal error text after
	// "Bad Request - ", from both servers.
	check("malformed pull body", req("$JS.API.CONSUMER.MSG.NEXT.S.C2", "{bad"),
		`data "" status 400 "Bad Request - invalid character 'b' looking for beginning of object key string"`)
	check("pull body of the wrong type", req("$JS.API.CONSUMER.MSG.NEXT.S.C2", `{"batch":"2"}`),
		`data "" status 400 "Bad Request - json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.batch of type int"`)
	check("pull body cut short", req("$JS.API.CONSUMER.MSG.NEXT.S.C2", `{"batch":2`),
		`data "" status 400 "Bad Request - unexpected end of JSON input"`)
	check("pull body not json", req("$JS.API.CONSUMER.MSG.NEXT.S.C3", "xyz"), `data "s-1"`)
	check("pull negative batch", req("$JS.API.CONSUMER.MSG.NEXT.S.C4", `{"batch":-1}`), `data "s-1"`)
	check("pull on unknown consumer", req("$JS.API.CONSUMER.MSG.NEXT.S.NOPE", "1"), "timeout")
	check("pull on unknown stream", req("$JS.API.CONSUMER.MSG.NEXT.NOPE.C", "1"), "timeout")

	// Configs nats-server rejects.
	cfgs := []struct {
		name string
		cfg  nats.ConsumerConfig
	}{
		{"pull with deliver_group", nats.ConsumerConfig{Durable: "bad1", AckPolicy: nats.AckExplicitPolicy, DeliverGroup: "g"}},
		{"push with max_waiting", nats.ConsumerConfig{Durable: "bad2", AckPolicy: nats.AckExplicitPolicy, DeliverSubject: "dlv.bad2", MaxWaiting: 5}},
		{"pull with heartbeat", nats.ConsumerConfig{Durable: "bad3", AckPolicy: nats.AckExplicitPolicy, Heartbeat: time.Second}},
		{"pull with flow control", nats.ConsumerConfig{Durable: "bad4", AckPolicy: nats.AckExplicitPolicy, FlowControl: true}},
		{"backoff longer than max_deliver", nats.ConsumerConfig{Durable: "bad5", AckPolicy: nats.AckExplicitPolicy, MaxDeliver: 2, BackOff: []time.Duration{time.Second, time.Second}}},
		{"pull with ack none", nats.ConsumerConfig{Durable: "bad6", AckPolicy: nats.AckNonePolicy}},
		{"pull with rate limit", nats.ConsumerConfig{Durable: "bad7", AckPolicy: nats.AckExplicitPolicy, RateLimit: 1000}},
		{"filter outside the stream", nats.ConsumerConfig{Durable: "bad8", AckPolicy: nats.AckExplicitPolicy, FilterSubject: "other.>"}},
	}
	for _, c := range cfgs {
		_, err := js.AddConsumer("S", &c.cfg)
		got := "ok"
		var ae nats.JetStreamError
		if errors.As(err, &ae) {
			got = fmt.Sprintf("%d/%d %s", ae.APIError().Code, ae.APIError().ErrorCode, ae.APIError().Description)
		} else if err != nil {
			got = "error " + err.Error()
		}
		t.Logf("%s: %s", c.name, got)
		want, ok := badConfigAnswers[c.name]
		if !ok {
			t.Errorf("%s: no expectation (got %s)", c.name, got)
		} else if got != want {
			t.Errorf("%s: got %s, want %s", c.name, got, want)
		}
	}

	// Still serving: publish and consume through a fresh consumer.
	if _, err := js.Publish("s.after", []byte("after")); err != nil {
		t.Fatalf("publish after bad input: %v", err)
	}
	s2, err := js.PullSubscribe("s.after", "after")
	if err != nil {
		t.Fatalf("pull subscribe after bad input: %v", err)
	}
	ms, err := s2.Fetch(1, nats.MaxWait(2*time.Second))
	if err != nil || len(ms) != 1 || string(ms[0].Data) != "after" {
		t.Fatalf("fetch after bad input: %d %v", len(ms), err)
	}
	if err := ms[0].AckSync(); err != nil {
		t.Fatalf("ack after bad input: %v", err)
	}
	if err := nc.Flush(); err != nil || nc.Status() != nats.CONNECTED {
		t.Fatalf("connection: %v %v", nc.Status(), err)
	}
}

// nats-server 2.9.10 answers to the configs above (filled in from the reference).
var badConfigAnswers = map[string]string{
	"pull with deliver_group":         "ok", // accepted by 2.9.10
	"push with max_waiting":           "400/10080 consumer in push mode can not set max waiting",
	"pull with heartbeat":             "400/10088 consumer idle heartbeat requires a push based consumer",
	"pull with flow control":          "400/10089 consumer flow control requires a push based consumer",
	"backoff longer than max_deliver": "400/10116 max deliver is required to be > length of backoff values",
	"pull with ack none":              "ok", // accepted by 2.9.10
	"pull with rate limit":            "400/10086 consumer in pull mode can not have rate limit set",
	"filter outside the stream":       "400/10093 consumer filter subject is not a valid subset of the interest subjects",
}

// 5. Ordered consumer over 100,000 messages of an R3 stream while the stream
// leader is SIGKILLed after ~30,000 received (and restarted), then the node
// hosting the ordered consumer after ~60,000: every message exactly once, in
// order. (nats-server 2.9.10's flow control lets most of the stream into the
// client's buffer early; the "buffered" counts in the log tell how much was
// still to be delivered by the server at each kill.)
func TestClientOrderedConsumerLeaderKill(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, js := connect(t, c.URLs(), "admin")
	const stream, total = "OC", 100000
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"oc.>"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, js, stream, 3, 0, 20*time.Second)
	pjs, err := nc.JetStream(nats.PublishAsyncMaxPending(4000))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	publishAsyncN(t, pjs, total, "oc", func(k int) string { return fmt.Sprintf("oc.%d", k%16) }, 60*time.Second)
	t.Logf("published %d in %v", total, time.Since(start).Round(time.Millisecond))

	var (
		mu       sync.Mutex
		next     uint64 = 1
		problems []string
		received atomic.Int64
	)
	cnc, cjs := connect(t, c.URLs(), "ordered")
	var asyncErrs []string
	cnc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		asyncErrs = append(asyncErrs, err.Error())
		mu.Unlock()
	})
	cstart := time.Now()
	sub, err := cjs.Subscribe("oc.>", func(m *nats.Msg) {
		md, err := m.Metadata()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			problems = append(problems, "metadata: "+err.Error())
			return
		}
		seq := md.Sequence.Stream
		switch {
		case seq < next:
			problems = append(problems, fmt.Sprintf("duplicate %d (expected %d)", seq, next))
			return
		case seq > next:
			problems = append(problems, fmt.Sprintf("gap: got %d expected %d", seq, next))
		}
		if string(m.Data) != fmt.Sprintf("oc-%d", seq) {
			problems = append(problems, fmt.Sprintf("seq %d payload %q", seq, m.Data))
		}
		next = seq + 1
		if received.Add(1)%10 == 0 {
			time.Sleep(time.Millisecond) // <10k msgs/s, so that the kills land mid-stream (not an assertion)
		}
	}, nats.OrderedConsumer())
	if err != nil {
		t.Fatalf("ordered subscribe: %v", err)
	}
	defer sub.Unsubscribe()
	progDone := make(chan struct{})
	defer close(progDone)
	go func() { // progress every 5s (in the log)
		for {
			select {
			case <-progDone:
				return
			case <-time.After(5 * time.Second):
				p, _, _ := sub.Pending()
				t.Logf("progress: %d received, %d buffered", received.Load(), p)
			}
		}
	}()
	waitFor(t, 40*time.Second, "30000 received", func() error {
		if n := received.Load(); n < 30000 {
			return fmt.Errorf("received %d", n)
		}
		return nil
	})
	leader := leaderOf(t, js, stream, 10*time.Second)
	if ci, err := sub.ConsumerInfo(); err == nil && ci.Cluster != nil {
		t.Logf("ordered consumer %s led by %s, stream leader %s", ci.Name, ci.Cluster.Leader, leader)
	}
	atKill := received.Load()
	c.ByName(leader).Kill()
	killedAt := time.Now()
	pend1, _, _ := sub.Pending()
	t.Logf("killed stream leader %s after %d received (%v into consuming, %d buffered in the client)", leader, atKill, killedAt.Sub(cstart).Round(time.Millisecond), pend1)
	time.Sleep(time.Second) // the node stays down a moment (not an assertion)
	c.ByName(leader).Start()
	// Then the node that hosts the ordered consumer (nats-server 2.9.10 puts
	// it on any stream peer), once 60000 are in: the client must notice the
	// missing heartbeats and recreate the consumer from the next sequence.
	waitFor(t, 60*time.Second, "60000 received", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			return nil
		}
		if n := received.Load(); n < 60000 {
			return fmt.Errorf("received %d, async errors %v", n, asyncErrs)
		}
		return nil
	})
	var host string
	waitFor(t, 20*time.Second, "the ordered consumer's host", func() error {
		ci, err := sub.ConsumerInfo()
		if err != nil {
			return err
		}
		if ci.Cluster == nil || ci.Cluster.Leader == "" {
			return fmt.Errorf("no consumer leader")
		}
		host = ci.Cluster.Leader
		return nil
	})
	atKill2 := received.Load()
	c.ByName(host).Kill()
	killed2At := time.Now()
	pend, _, _ := sub.Pending()
	t.Logf("killed the ordered consumer's host %s after %d received (%d buffered in the client)", host, atKill2, pend)
	time.Sleep(time.Second) // down a moment (not an assertion)
	c.ByName(host).Start()
	waitFor(t, 90*time.Second-time.Since(cstart), "every message through the ordered consumer", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			return nil
		}
		if next <= total {
			return fmt.Errorf("received %d, next %d, async errors %v", received.Load(), next, asyncErrs)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = problems[:10]
		}
		t.Fatalf("ordered consumer: %v", problems)
	}
	if received.Load() != total {
		t.Fatalf("received %d", received.Load())
	}
	t.Logf("all %d in order in %v (%v after the first kill, %v after the second); async errors %v", total, time.Since(cstart).Round(time.Millisecond),
		time.Since(killedAt).Round(time.Millisecond), time.Since(killed2At).Round(time.Millisecond), asyncErrs)
}

// 6. A durable pull consumer of an R3 stream resumes after every node is
// stopped at once and restarted (SIGTERM; SIGKILL): nothing is skipped; the
// fetched but unacknowledged messages come again. After SIGTERM the consumer
// state is exact (no acked message delivered again). After SIGKILL of every
// node nats-server 2.9.10 may lose the last acks/deliveries (its ack replies
// do not wait for replication; observed: ack floor 499 of 500, delivered 500
// of 520): the test allows acked messages above the restored ack floor to
// come again and reports how many.
func TestClientDurableResumeAfterFullRestart(t *testing.T) {
	t.Run("sigterm", func(t *testing.T) { durableResume(t, false) })
	t.Run("sigkill", func(t *testing.T) { durableResume(t, true) })
}

func durableResume(t *testing.T, kill bool) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, js := connect(t, c.URLs(), "admin")
	const stream, durable, total, acked, fetched = "DR", "work", 1000, 500, 520
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"dr.>"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, js, stream, 3, 0, 20*time.Second)
	publishAsyncN(t, js, total, "dr", func(k int) string { return fmt.Sprintf("dr.%d", k%3) }, 30*time.Second)
	if _, err := js.AddConsumer(stream, &nats.ConsumerConfig{Durable: durable, AckPolicy: nats.AckExplicitPolicy, AckWait: 2 * time.Second}); err != nil {
		t.Fatalf("add consumer: %v", err)
	}
	sub, err := js.PullSubscribe("", durable, nats.Bind(stream, durable))
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for got < fetched {
		msgs, err := sub.Fetch(20, nats.MaxWait(3*time.Second))
		if err != nil {
			t.Fatalf("fetch at %d: %v", got, err)
		}
		for _, m := range msgs {
			got++
			md := mustMeta(t, m)
			if md.Sequence.Stream != got {
				t.Fatalf("before restart: seq %d, want %d", md.Sequence.Stream, got)
			}
			if got <= acked {
				if err := m.AckSync(nats.AckWait(3 * time.Second)); err != nil {
					t.Fatalf("ack %d: %v", got, err)
				}
			}
		}
	}
	waitFor(t, 10*time.Second, "ack floor before restart", func() error {
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream != acked || ci.Delivered.Stream != fetched {
			return fmt.Errorf("ack floor %+v delivered %+v", ci.AckFloor, ci.Delivered)
		}
		return nil
	})
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			if kill {
				n.Kill()
			} else {
				n.Stop()
			}
		}(n)
	}
	wg.Wait()
	c.StartAll()
	c.WaitReady(40 * time.Second)
	WaitStreamHealthy(t, js, stream, 3, total, 30*time.Second)
	var floor uint64
	waitFor(t, 30*time.Second, "consumer state after the restart", func() error {
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.Cluster == nil || ci.Cluster.Leader == "" {
			return fmt.Errorf("no consumer leader")
		}
		if !kill && (ci.AckFloor.Stream != acked || ci.Delivered.Stream != fetched || ci.NumPending != total-fetched) {
			return fmt.Errorf("ack floor %+v delivered %+v pending %d ack pending %d",
				ci.AckFloor, ci.Delivered, ci.NumPending, ci.NumAckPending)
		}
		if ci.AckFloor.Stream > acked || ci.Delivered.Stream > fetched || ci.NumPending != total-ci.Delivered.Stream {
			return fmt.Errorf("ack floor %+v delivered %+v pending %d", ci.AckFloor, ci.Delivered, ci.NumPending)
		}
		floor = ci.AckFloor.Stream
		t.Logf("after the restart: ack floor %+v delivered %+v pending %d ack pending %d", ci.AckFloor, ci.Delivered, ci.NumPending, ci.NumAckPending)
		return nil
	})
	_, js2 := connect(t, c.URLs(), "after")
	sub2, err := js2.PullSubscribe("", durable, nats.Bind(stream, durable))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	var bad []string
	ackedAgain := 0
	waitFor(t, 30*time.Second, "the second half, all acked", func() error {
		msgs, err := sub2.Fetch(50, nats.MaxWait(time.Second))
		for _, m := range msgs {
			md := mustMeta(t, m)
			s := md.Sequence.Stream
			if s <= floor || seen[s] > 0 {
				bad = append(bad, fmt.Sprintf("%d (delivery %d)", s, md.NumDelivered))
			} else if s <= acked {
				ackedAgain++
			}
			seen[s]++
			if err := m.AckSync(nats.AckWait(3 * time.Second)); err != nil {
				bad = append(bad, fmt.Sprintf("ack %d: %v", s, err))
			}
		}
		for s := uint64(acked + 1); s <= total; s++ {
			if seen[s] == 0 {
				return fmt.Errorf("seq %d not yet delivered (%d distinct so far; fetch err %v)", s, len(seen), err)
			}
		}
		// Acks lost in the kill: their messages come again after ack_wait.
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.AckFloor.Stream != total || ci.NumAckPending != 0 || ci.NumPending != 0 {
			return fmt.Errorf("ack floor %+v ack pending %d pending %d", ci.AckFloor, ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
	if len(bad) > 0 {
		t.Fatalf("after the restart: %v", bad)
	}
	t.Logf("acked before the restart and delivered again: %d", ackedAgain)
	if !kill && ackedAgain > 0 {
		t.Fatalf("%d acked messages delivered again", ackedAgain)
	}
}

// 7. Two publishers (Nats-Msg-Id, retried) and a pull consumer with AckSync
// on an R3 stream; the stream leader is SIGKILLed (and restarted), then the
// consumer's leader is SIGKILLed (and restarted). No gaps; the stream holds
// each message once; duplicates and messages delivered again after their
// ack was confirmed are counted (nats-server 2.9.10 has some). (Complements TestConsumerAcrossLeaderKill:
// two publishers, two kills, the consumer leader as the second target.)
func TestClientConsumerTwoPublishersKills(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, js := connect(t, c.URLs(), "admin")
	const stream, durable, perPub = "TP", "tpw", 1000
	const total = 2 * perPub
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"tp.>"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, js, stream, 3, 0, 20*time.Second)
	if _, err := js.AddConsumer(stream, &nats.ConsumerConfig{Durable: durable, AckPolicy: nats.AckExplicitPolicy,
		AckWait: 2 * time.Second}); err != nil {
		t.Fatalf("add consumer: %v", err)
	}
	pubDone := make(chan error, 2)
	for p := 0; p < 2; p++ {
		p := p
		_, pjs := connect(t, c.URLs(), fmt.Sprintf("pub%d", p))
		go func() {
			deadline := time.Now().Add(100 * time.Second)
			for k := 1; k <= perPub; k++ {
				for {
					if time.Now().After(deadline) {
						pubDone <- fmt.Errorf("publisher %d: message %d never acknowledged", p, k)
						return
					}
					m := nats.NewMsg(fmt.Sprintf("tp.%c.%d", 'a'+p, k%5))
					m.Data = []byte(fmt.Sprintf("%c-%06d", 'a'+p, k))
					m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("%c-%06d", 'a'+p, k))
					if _, err := pjs.PublishMsg(m, nats.AckWait(2*time.Second)); err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if k%10 == 0 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			pubDone <- nil
		}()
	}

	var (
		mu         sync.Mutex
		seen       = map[string]int{}
		ackedOK    = map[string]bool{}
		lastFirst  = map[byte]int{}
		outOfOrder int
		again      []string
		consumed   atomic.Int64
	)
	consDone := make(chan error, 1)
	_, cjs := connect(t, c.URLs(), "cons")
	go func() {
		var sub *nats.Subscription
		deadline := time.Now().Add(120 * time.Second)
		for {
			if time.Now().After(deadline) {
				consDone <- fmt.Errorf("consumer did not see every message in time")
				return
			}
			if sub == nil {
				s, err := cjs.PullSubscribe("", durable, nats.Bind(stream, durable))
				if err != nil {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				sub = s
			}
			msgs, err := sub.Fetch(25, nats.MaxWait(2*time.Second))
			if err != nil && err != nats.ErrTimeout {
				time.Sleep(100 * time.Millisecond)
			}
			for _, m := range msgs {
				id := string(m.Data)
				md, err := m.Metadata()
				if err != nil || len(id) != 8 {
					consDone <- fmt.Errorf("bad message %q: %v", id, err)
					return
				}
				var k int
				fmt.Sscanf(id[2:], "%d", &k)
				mu.Lock()
				if ackedOK[id] {
					again = append(again, fmt.Sprintf("%s seq %d (delivery %d)", id, md.Sequence.Stream, md.NumDelivered))
				}
				if seen[id] == 0 {
					if k < lastFirst[id[0]] {
						outOfOrder++
					}
					lastFirst[id[0]] = k
				}
				seen[id]++
				mu.Unlock()
				if err := m.AckSync(nats.AckWait(2 * time.Second)); err == nil {
					mu.Lock()
					ackedOK[id] = true
					mu.Unlock()
				}
				consumed.Add(1)
			}
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n == total {
				consDone <- nil
				return
			}
		}
	}()

	waitFor(t, 60*time.Second, "a third consumed", func() error {
		if consumed.Load() < total/3 {
			return fmt.Errorf("consumed %d", consumed.Load())
		}
		return nil
	})
	leader := leaderOf(t, js, stream, 10*time.Second)
	c.ByName(leader).Kill()
	t.Logf("killed stream leader %s after %d consumed", leader, consumed.Load())
	time.Sleep(2 * time.Second) // down a moment (not an assertion)
	c.ByName(leader).Start()
	waitFor(t, 60*time.Second, "two thirds consumed", func() error {
		if consumed.Load() < 2*total/3 {
			return fmt.Errorf("consumed %d", consumed.Load())
		}
		return nil
	})
	var cleader string
	waitFor(t, 20*time.Second, "a consumer leader", func() error {
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.Cluster == nil || ci.Cluster.Leader == "" {
			return fmt.Errorf("no consumer leader")
		}
		cleader = ci.Cluster.Leader
		return nil
	})
	c.ByName(cleader).Kill()
	t.Logf("killed consumer leader %s (stream leader was %s) after %d consumed", cleader, leaderOf(t, js, stream, 10*time.Second), consumed.Load())
	time.Sleep(2 * time.Second)
	c.ByName(cleader).Start()

	for p := 0; p < 2; p++ {
		if err := <-pubDone; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-consDone; err != nil {
		mu.Lock()
		var missing []string
		for p := 0; p < 2 && len(missing) < 20; p++ {
			for k := 1; k <= perPub && len(missing) < 20; k++ {
				if id := fmt.Sprintf("%c-%06d", 'a'+p, k); seen[id] == 0 {
					missing = append(missing, id)
				}
			}
		}
		n := len(seen)
		mu.Unlock()
		t.Fatalf("%v: %d of %d distinct seen; gaps (first 20): %s", err, n, total, strings.Join(missing, ","))
	}
	mu.Lock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	bad := append([]string(nil), again...)
	ooo := outOfOrder
	mu.Unlock()
	sort.Strings(bad)
	t.Logf("every one of %d messages delivered; %d duplicate deliveries; %d first deliveries out of publish order", total, dups, ooo)
	// Not asserted: nats-server 2.9.10 itself sometimes delivers a message
	// again after its AckSync was answered when the consumer leader is
	// SIGKILLed (seen: 1 of 2000, its ack ~200 messages before the kill).
	t.Logf("%d delivered again after their ack was confirmed: %s", len(bad), strings.Join(bad, ", "))
	si := WaitStreamHealthy(t, js, stream, 3, total, 30*time.Second)
	if si.State.Msgs != total || si.State.LastSeq != total {
		t.Fatalf("stream holds %d messages, last seq %d; want %d", si.State.Msgs, si.State.LastSeq, total)
	}
	// Drain: a message whose ack was lost in a kill is redelivered after
	// ack_wait (pull consumers redeliver only to a pull request).
	dsub, err := js.PullSubscribe("", durable, nats.Bind(stream, durable))
	if err != nil {
		t.Fatal(err)
	}
	late := 0
	waitFor(t, 20*time.Second, "nothing pending", func() error {
		msgs, _ := dsub.Fetch(25, nats.MaxWait(500*time.Millisecond))
		for _, m := range msgs {
			id := string(m.Data)
			if ackedOK[id] {
				md, _ := m.Metadata()
				t.Logf("%s delivered again after its ack was confirmed (delivery %d), while draining", id, md.NumDelivered)
			}
			late++
			m.AckSync()
		}
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.NumAckPending != 0 || ci.AckFloor.Stream != total || ci.NumPending != 0 {
			return fmt.Errorf("ack pending %d, ack floor %d, pending %d", ci.NumAckPending, ci.AckFloor.Stream, ci.NumPending)
		}
		return nil
	})
	t.Logf("%d redeliveries (of unconfirmed acks) while draining", late)
}

// A single node whose $JS.API.INFO answers creates a stream at once
// (nats-server 2.9.10; no "temporarily unavailable" window).
func TestClientStreamCreateRightAfterStart(t *testing.T) {
	for i := 0; i < 20; i++ {
		n := startSingleInfo(t)
		_, js := connect(t, n.URL(), "early")
		if _, err := js.AddStream(&nats.StreamConfig{Name: "EARLY", Subjects: []string{"early.>"}}); err != nil {
			t.Fatalf("start %d: stream create right after INFO answered: %v", i+1, err)
		}
		n.Stop()
	}
}
