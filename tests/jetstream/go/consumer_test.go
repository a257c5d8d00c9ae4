package jetstreamtest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A durable pull consumer of an R3 stream keeps its progress across a
// SIGKILL of the stream leader (which leads the consumer) while publishers
// and the consumer run: every published message is delivered at least once
// (no gaps), what was acknowledged synchronously before the kill is not
// delivered again, and in the end nothing is pending. Duplicates (at-least-
// once redeliveries) are counted and reported. The consumer keeps fetching
// after it has seen every message until nothing is pending: a message whose
// AckSync failed comes again, as it would to any consumer.
func TestConsumerAcrossLeaderKill(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, js := connect(t, c.URLs(), "admin")
	const stream, durable, total = "CK", "work", 1500
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"ck.>"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, js, stream, 3, 0, 20*time.Second)
	if _, err := js.AddConsumer(stream, &nats.ConsumerConfig{Durable: durable, AckPolicy: nats.AckExplicitPolicy,
		AckWait: 2 * time.Second}); err != nil {
		t.Fatalf("add consumer: %v", err)
	}

	// One publisher with message ids (retries are idempotent).
	var published atomic.Int64
	pubDone := make(chan error, 1)
	go func() {
		_, pjs := connect(t, c.URLs(), "pub")
		deadline := time.Now().Add(90 * time.Second)
		for k := 1; k <= total; k++ {
			for {
				if time.Now().After(deadline) {
					pubDone <- fmt.Errorf("message %d never acknowledged", k)
					return
				}
				m := nats.NewMsg(fmt.Sprintf("ck.%d", k%7))
				m.Data = []byte(fmt.Sprintf("m-%06d", k))
				m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("id-%06d", k))
				if _, err := pjs.PublishMsg(m, nats.AckWait(2*time.Second)); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			published.Add(1)
			if k%10 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		pubDone <- nil
	}()

	// The consumer: fetch, record, ack synchronously (an acknowledged ack is
	// replicated: it must never come back).
	var (
		mu        sync.Mutex
		seen      = map[uint64]int{}
		ackedOK   = map[uint64]bool{}
		redeliv   []string
		killed    atomic.Bool
		consumed  atomic.Int64
		ackFailed atomic.Int64
	)
	consDone := make(chan error, 1)
	go func() {
		_, cjs := connect(t, c.URLs(), "cons")
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
			wait := 2 * time.Second
			mu.Lock()
			if len(seen) == total {
				wait = 500 * time.Millisecond // draining redeliveries
			}
			mu.Unlock()
			msgs, err := sub.Fetch(50, nats.MaxWait(wait))
			if err != nil && err != nats.ErrTimeout {
				time.Sleep(100 * time.Millisecond)
			}
			for _, m := range msgs {
				md, err := m.Metadata()
				if err != nil {
					consDone <- fmt.Errorf("metadata: %v", err)
					return
				}
				seq := md.Sequence.Stream
				mu.Lock()
				if ackedOK[seq] {
					redeliv = append(redeliv, fmt.Sprintf("%d (delivery %d)", seq, md.NumDelivered))
				}
				seen[seq]++
				mu.Unlock()
				if err := m.AckSync(nats.AckWait(2 * time.Second)); err == nil {
					mu.Lock()
					ackedOK[seq] = true
					mu.Unlock()
				} else {
					ackFailed.Add(1)
				}
				consumed.Add(1)
			}
			mu.Lock()
			n := len(seen)
			mu.Unlock()
			if n < total || len(msgs) > 0 {
				continue
			}
			// Every message was seen. One whose AckSync failed (its ack
			// went to the killed leader, or timed out) is still pending and
			// comes again after ack_wait: keep fetching, as any consumer
			// would, until the consumer reports nothing pending.
			ci, err := cjs.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
			if err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 {
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
	killed.Store(true)
	t.Logf("killed stream leader %s after %d consumed, %d published", leader, consumed.Load(), published.Load())
	time.Sleep(2 * time.Second)
	c.ByName(leader).Start()

	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	if err := <-consDone; err != nil {
		mu.Lock()
		var missing []string
		for s := uint64(1); s <= total && len(missing) < 20; s++ {
			if seen[s] == 0 {
				missing = append(missing, fmt.Sprint(s))
			}
		}
		mu.Unlock()
		t.Fatalf("%v; first missing: %s", err, strings.Join(missing, ","))
	}
	mu.Lock()
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	bad := append([]string(nil), redeliv...)
	mu.Unlock()
	sort.Strings(bad)
	t.Logf("every one of %d messages delivered; %d duplicate deliveries, %d AckSyncs failed", total, dups, ackFailed.Load())
	if len(bad) > 0 {
		t.Fatalf("%d messages delivered again after their ack was confirmed: %s", len(bad), strings.Join(bad, ", "))
	}
	waitFor(t, 20*time.Second, "nothing pending", func() error {
		ci, err := js.ConsumerInfo(stream, durable, nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		if ci.NumAckPending != 0 || ci.AckFloor.Stream != total || ci.NumPending != 0 {
			si, serr := js.StreamInfo(stream, nats.MaxWait(2*time.Second))
			state := fmt.Sprint(serr)
			if serr == nil {
				state = fmt.Sprintf("%d messages, seq %d..%d", si.State.Msgs, si.State.FirstSeq, si.State.LastSeq)
			}
			return fmt.Errorf("ack pending %d, ack floor %d/%d, pending %d, delivered %d/%d; stream: %s",
				ci.NumAckPending, ci.AckFloor.Consumer, ci.AckFloor.Stream, ci.NumPending,
				ci.Delivered.Consumer, ci.Delivered.Stream, state)
		}
		return nil
	})
}
