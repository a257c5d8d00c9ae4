package jetstreamtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A stream request that reaches a replica before that replica has heard of
// its stream's leader (right after the create, or during an election) is
// answered once the leader is known, not refused: nats-server's leader
// answers it, wherever the client is connected.
func TestStreamInfoRightAfterCreateOnEveryNode(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, admin := connect(t, c.Nodes[0].URL(), "admin")
	var perNode []nats.JetStreamContext
	for _, n := range c.Nodes {
		_, js := connect(t, n.URL(), "info-"+n.Name)
		perNode = append(perNode, js)
	}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("FRESH%d", i)
		if _, err := admin.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"fresh." + name}, Replicas: 3}); err != nil {
			t.Fatalf("add stream %s: %v", name, err)
		}
		// At once, from every node at the same time: each must answer with
		// the stream (its config and a leader), none with an error.
		var wg sync.WaitGroup
		errs := make([]error, len(perNode))
		for k, js := range perNode {
			wg.Add(1)
			go func(k int, js nats.JetStreamContext) {
				defer wg.Done()
				si, err := js.StreamInfo(name, nats.MaxWait(5*time.Second))
				if err == nil && (si.Config.Name != name || si.Cluster == nil || si.Cluster.Leader == "") {
					err = fmt.Errorf("answer without the stream's leader: %+v", si.Cluster)
				}
				errs[k] = err
			}(k, js)
		}
		wg.Wait()
		for k, err := range errs {
			if err != nil {
				t.Fatalf("stream info of %s through %s right after its create: %v", name, c.Nodes[k].Name, err)
			}
		}
	}
}

// The same across a leader change: every node answers stream info while the
// old leader steps down and a new one is elected.
func TestStreamInfoDuringStepdownOnEveryNode(t *testing.T) {
	if serverKind() != "herald" {
		// nats-server 2.9.10 leaves a request that arrives while the stream
		// has no leader unanswered (the client times out): Herald holds it
		// until the leader is known (up to 3 s) and answers.
		t.Skip("herald only: nats-server 2.9.10 does not answer stream info while leaderless")
	}
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, admin := connect(t, c.Nodes[0].URL(), "admin")
	const name = "STEPINFO"
	if _, err := admin.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"stepinfo"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, admin, name, 3, 0, 20*time.Second)
	var perNode []nats.JetStreamContext
	for _, n := range c.Nodes {
		_, js := connect(t, n.URL(), "info-"+n.Name)
		perNode = append(perNode, js)
	}
	for round := 0; round < 3; round++ {
		if err := stepDown(nc, name); err != nil {
			t.Fatalf("stepdown %d: %v", round, err)
		}
		for k, js := range perNode {
			si, err := js.StreamInfo(name, nats.MaxWait(5*time.Second))
			if err != nil {
				t.Fatalf("stream info through %s after stepdown %d: %v", c.Nodes[k].Name, round, err)
			}
			if si.Config.Name != name {
				t.Fatalf("stream info through %s: config %+v", c.Nodes[k].Name, si.Config)
			}
		}
		WaitStreamHealthy(t, admin, name, 3, 0, 20*time.Second)
	}
}

// nats.go's publish retries the no-responders status (twice, 250 ms apart,
// by default): what nats-server's clients get while a stream's leadership
// moves. Herald answers a publish that its node could no longer take with
// that status, and only when it certainly was not stored (the stream's
// subjects are a one-member queue group, so no other node got it): an
// application with the default client sees no error across step-downs, and
// nothing is stored twice.
func TestPublishAcrossStepdownsWithTheDefaultClient(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, admin := connect(t, c.Nodes[0].URL(), "admin")
	const name = "STEPPUB"
	if _, err := admin.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{"steppub.>"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, admin, name, 3, 0, 20*time.Second)
	// The publisher on another node than the one asking for step-downs.
	pnc, err := nats.Connect(c.Nodes[1].URL(), nats.Name("publisher"))
	if err != nil {
		t.Fatal(err)
	}
	defer pnc.Close()
	js, err := pnc.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var stepdowns int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if stepDown(nc, name) == nil {
					stepdowns++
				}
			}
		}
	}()
	acked := map[uint64]bool{}
	errs := map[string]int{}
	timeouts := 0
	start := time.Now()
	for i := 0; i < 100000 && time.Since(start) < 7*time.Second; i++ {
		pa, err := js.Publish(fmt.Sprintf("steppub.%d", i%10), []byte("x"), nats.MsgId(fmt.Sprintf("id-%d", i)))
		switch {
		case err == nil:
			if acked[pa.Sequence] {
				t.Fatalf("sequence %d acknowledged twice", pa.Sequence)
			}
			acked[pa.Sequence] = true
		case err == nats.ErrTimeout:
			timeouts++ // fate unknown to the client, as on nats-server
		default:
			errs[err.Error()]++
		}
	}
	close(stop)
	wg.Wait()
	if stepdowns < 3 {
		t.Fatalf("only %d step-downs", stepdowns)
	}
	if len(errs) > 0 {
		t.Fatalf("publishes refused across %d step-downs (%d acked): %v", stepdowns, len(acked), errs)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d acked", len(acked))
	}
	// Every acknowledged sequence holds one of this run's messages, and the
	// stream holds no more than the publishes whose fate is known or unknown.
	si := WaitStreamHealthy(t, admin, name, 3, uint64(len(acked)), 20*time.Second)
	if si.State.Msgs > uint64(len(acked)+timeouts) {
		t.Fatalf("%d stored, %d acked, %d timed out: stored twice", si.State.Msgs, len(acked), timeouts)
	}
	t.Logf("%d step-downs, %d acked, %d timeouts, %d stored", stepdowns, len(acked), timeouts, si.State.Msgs)
}
