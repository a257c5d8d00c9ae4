package jetstreamtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Consumer state as a client sees it right after acting on it, and consumer
// updates that change a running consumer (found by a differential run
// against nats-server 2.9.10; every test here passes on both servers).

// consumerInfoChecks: ConsumerInfo right after Fetch (or after a push
// subscriber received its messages) shows the deliveries, as on nats-server,
// whose consumer info is its leader's latest state.
func consumerInfoChecks(t *testing.T, nc *nats.Conn, js nats.JetStreamContext, stream string, replicas int) {
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}, Replicas: replicas}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, 30, "ci", func(k int) string { return stream + ".x" })
	sub, err := js.PullSubscribe(stream+".x", "c", nats.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 3; round++ {
		ms, err := sub.Fetch(10, nats.MaxWait(5*time.Second))
		if err != nil || len(ms) != 10 {
			t.Fatalf("round %d: fetched %d: %v", round, len(ms), err)
		}
		ci, err := sub.ConsumerInfo()
		if err != nil {
			t.Fatal(err)
		}
		if ci.Delivered.Consumer != uint64(10*round) || ci.Delivered.Stream != uint64(10*round) || ci.NumAckPending != 10 {
			t.Fatalf("round %d, info right after the fetch: delivered %+v, ack pending %d (want %d/%d, 10)",
				round, ci.Delivered, ci.NumAckPending, 10*round, 10*round)
		}
		if ci.NumPending != uint64(30-10*round) {
			t.Fatalf("round %d: num_pending %d", round, ci.NumPending)
		}
		for _, m := range ms {
			if err := m.Ack(); err != nil {
				t.Fatal(err)
			}
		}
		// Plain acks are not waited for by nats-server's info either: bounded.
		waitFor(t, 5*time.Second, "the acks in the consumer info", func() error {
			ci, err := sub.ConsumerInfo()
			if err != nil {
				return err
			}
			if ci.NumAckPending != 0 || ci.AckFloor.Consumer != uint64(10*round) || ci.AckFloor.Stream != uint64(10*round) {
				return fmt.Errorf("round %d: ack pending %d, ack floor %+v", round, ci.NumAckPending, ci.AckFloor)
			}
			return nil
		})
	}
	// A push consumer: what its subscriber received is delivered in the info.
	ps, err := js.SubscribeSync(stream+".x", nats.Durable("p"), nats.AckWait(30*time.Second), nats.DeliverAll())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if _, err := ps.NextMsg(5 * time.Second); err != nil {
			t.Fatalf("push message %d: %v", i, err)
		}
	}
	ci, err := ps.ConsumerInfo()
	if err != nil {
		t.Fatal(err)
	}
	if ci.Delivered.Stream != 30 || ci.NumAckPending != 30 {
		t.Fatalf("push, info after 30 received: delivered %+v, ack pending %d", ci.Delivered, ci.NumAckPending)
	}
	if err := js.DeleteStream(stream); err != nil {
		t.Fatal(err)
	}
}

func TestConsumerInfoRightAfterFetchAndAck(t *testing.T) {
	n := StartSingle(t)
	nc, js := connect(t, n.URL(), "info")
	consumerInfoChecks(t, nc, js, "CI1", 1)
}

func TestConsumerInfoRightAfterFetchAndAckR3(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(60 * time.Second)
	// Through a node that may or may not lead the stream: both are checked
	// over the two streams (the leader is placed by the servers).
	for i, node := range c.Nodes {
		nc, js := connect(t, node.URL(), fmt.Sprintf("info-%d", i))
		consumerInfoChecks(t, nc, js, fmt.Sprintf("CIR%d", i), 3)
		nc.Close()
	}
}

// A changed ack_wait applies to messages already delivered, both ways (as
// nats-server: a pending message is due at its delivery + the ack wait in
// force).
func TestConsumerAckWaitUpdateAppliesToPending(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "ackwait")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "AW", Subjects: []string{"aw.>"}}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, 3, "aw", func(k int) string { return "aw.low" })
	publishN(t, js, 2, "aw", func(k int) string { return "aw.high" })

	// Lowered: 10 s -> 1 s redelivers what was fetched within a few seconds.
	low, err := js.PullSubscribe("aw.low", "low", nats.AckWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := low.Fetch(3, nats.MaxWait(5*time.Second)); err != nil || len(ms) != 3 {
		t.Fatalf("fetch: %d %v", len(ms), err)
	}
	ci, err := js.ConsumerInfo("AW", "low")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ci.Config
	cfg.AckWait = time.Second
	if _, err := js.UpdateConsumer("AW", &cfg); err != nil {
		t.Fatal(err)
	}
	again, _ := low.Fetch(3, nats.MaxWait(5*time.Second))
	if len(again) != 3 {
		t.Fatalf("after lowering ack_wait to 1 s: %d of 3 redelivered within 5 s", len(again))
	}
	for _, m := range again {
		md, _ := m.Metadata()
		if md.NumDelivered != 2 {
			t.Fatalf("redelivery %d: num_delivered %d", md.Sequence.Stream, md.NumDelivered)
		}
	}

	// Raised: 2 s -> 30 s: nothing comes again within 4 s.
	high, err := js.PullSubscribe("aw.high", "high", nats.AckWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if ms, err := high.Fetch(2, nats.MaxWait(5*time.Second)); err != nil || len(ms) != 2 {
		t.Fatalf("fetch: %d %v", len(ms), err)
	}
	ci, err = js.ConsumerInfo("AW", "high")
	if err != nil {
		t.Fatal(err)
	}
	cfg = ci.Config
	cfg.AckWait = 30 * time.Second
	if _, err := js.UpdateConsumer("AW", &cfg); err != nil {
		t.Fatal(err)
	}
	if ms, _ := high.Fetch(2, nats.MaxWait(4*time.Second)); len(ms) != 0 {
		t.Fatalf("after raising ack_wait to 30 s, %d redelivered at the old 2 s", len(ms))
	}
}

// A push consumer's deliver subject may change only while no one listens on
// it (nats-server: 10013): a running subscriber must not lose its messages.
func TestPushDeliverSubjectUpdateWhileBound(t *testing.T) {
	n := StartSingle(t)
	nc, js := connect(t, n.URL(), "deliver")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "DS", Subjects: []string{"ds.>"}}); err != nil {
		t.Fatal(err)
	}
	sub, err := js.SubscribeSync("ds.x", nats.Durable("solo"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := js.ConsumerInfo("DS", "solo")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ci.Config
	cfg.DeliverSubject = "dlv.new"
	_, err = js.UpdateConsumer("DS", &cfg)
	var apiErr *nats.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10013 {
		t.Fatalf("update of a bound consumer's deliver subject: %v, want 10013", err)
	}
	// Still delivering to the subscriber.
	publishN(t, js, 1, "ds", func(k int) string { return "ds.x" })
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("the subscriber lost its consumer: %v", err)
	}
	// Unbound: the change is taken and delivery follows it.
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	moved, err := nc.SubscribeSync("dlv.new")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	if _, err := js.UpdateConsumer("DS", &cfg); err != nil {
		t.Fatalf("update without a subscriber: %v", err)
	}
	publishN(t, js, 1, "ds", func(k int) string { return "ds.x" })
	if _, err := moved.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("nothing on the new deliver subject: %v", err)
	}
}

// The ack floor moves as nats-server's does (processAckMsg): only when the
// delivery just past it is acknowledged, with the consumer sequence of the
// delivery it was computed from (not of a later redelivery).
func TestAckFloorMovesAsNatsServer(t *testing.T) {
	n := StartSingle(t)
	nc, js := connect(t, n.URL(), "floor")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "AF", Subjects: []string{"af.>"}}); err != nil {
		t.Fatal(err)
	}
	publishN(t, js, 6, "af", func(k int) string { return "af.x" })
	sub, err := js.PullSubscribe("af.x", "c", nats.AckWait(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sub.Fetch(4, nats.MaxWait(5*time.Second))
	if err != nil || len(ms) != 4 {
		t.Fatalf("fetch: %d %v", len(ms), err)
	}
	floor := func(want nats.SequenceInfo, when string) {
		t.Helper()
		waitFor(t, 5*time.Second, "ack floor "+when, func() error {
			ci, err := sub.ConsumerInfo()
			if err != nil {
				return err
			}
			if ci.AckFloor.Consumer != want.Consumer || ci.AckFloor.Stream != want.Stream {
				return fmt.Errorf("%s: ack floor %d/%d, want %d/%d", when, ci.AckFloor.Consumer, ci.AckFloor.Stream, want.Consumer, want.Stream)
			}
			return nil
		})
	}
	if err := ms[0].AckSync(); err != nil {
		t.Fatal(err)
	}
	floor(nats.SequenceInfo{Consumer: 1, Stream: 1}, "after acking the first")
	// A nak asking for a reply: answered once the server took it, so the
	// next fetch gets the redelivery.
	if _, err := nc.Request(ms[1].Reply, []byte("-NAK"), 5*time.Second); err != nil {
		t.Fatalf("nak: %v", err)
	}
	re, err := sub.Fetch(1, nats.MaxWait(5*time.Second))
	if err != nil || len(re) != 1 {
		t.Fatalf("redelivery: %d %v", len(re), err)
	}
	if md, _ := re[0].Metadata(); md.Sequence.Stream != 2 || md.Sequence.Consumer != 5 {
		t.Fatalf("redelivery %+v", md.Sequence)
	}
	if err := ms[3].AckSync(); err != nil {
		t.Fatal(err)
	}
	// 2 (redelivered as 5) and 3 are pending: the floor stays at 1/1.
	floor(nats.SequenceInfo{Consumer: 1, Stream: 1}, "after acking out of order")
	if err := re[0].AckSync(); err != nil {
		t.Fatal(err)
	}
	// Message 2, first delivered as 2 (redelivered as 5), is the one past
	// the floor: the floor moves to it, and stops before 3, still pending.
	floor(nats.SequenceInfo{Consumer: 2, Stream: 2}, "after acking the redelivery")
	if err := ms[2].AckSync(); err != nil {
		t.Fatal(err)
	}
	// Nothing pending: the floor is the last delivery.
	floor(nats.SequenceInfo{Consumer: 5, Stream: 4}, "with nothing pending")
}
