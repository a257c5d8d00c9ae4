package jetstreamtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// CONSUMER.LEADER_ELECTED: nats-server 2.9.10 sends it (in a cluster) when a
// consumer gets its first leader, before CONSUMER.CREATED, and whenever its
// leader changes. Herald's consumers are led by their stream's leader, so a
// stream leader change moves every consumer's leadership too.
func TestConsumerLeaderElectedAdvisory(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, js := connect(t, c.URLs(), "advisories")
	type advisory struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Stream   string `json:"stream"`
		Consumer string `json:"consumer"`
		Leader   string `json:"leader"`
		Replicas []struct {
			Name string `json:"name"`
		} `json:"replicas"`
	}
	events := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("$JS.EVENT.ADVISORY.CONSUMER.>", events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const stream = "ADV"
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{"adv"}, Replicas: 3}); err != nil {
		t.Fatalf("add stream: %v", err)
	}
	WaitStreamHealthy(t, js, stream, 3, 0, 20*time.Second)
	if _, err := js.AddConsumer(stream, &nats.ConsumerConfig{Durable: "D", AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatalf("add consumer: %v", err)
	}
	next := func(what string) (*nats.Msg, advisory) {
		t.Helper()
		select {
		case m := <-events:
			var a advisory
			if err := json.Unmarshal(m.Data, &a); err != nil {
				t.Fatalf("%s: %v in %s", what, err, m.Data)
			}
			return m, a
		case <-time.After(10 * time.Second):
			t.Fatalf("no advisory: %s", what)
		}
		return nil, advisory{}
	}
	m, a := next("leader elected on create")
	if m.Subject != "$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.ADV.D" ||
		a.Type != "io.nats.jetstream.advisory.v1.consumer_leader_elected" || a.Stream != stream ||
		a.Consumer != "D" || a.Leader == "" || len(a.Replicas) != 3 || a.ID == "" {
		t.Fatalf("first advisory %s: %s", m.Subject, m.Data)
	}
	first := a.Leader
	m, _ = next("created")
	if m.Subject != "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.D" {
		t.Fatalf("second advisory %s: %s, want CREATED", m.Subject, m.Data)
	}
	// A consumer leader change (the consumer's stepdown) names a new leader.
	resp, err := nc.Request("$JS.API.CONSUMER.LEADER.STEPDOWN.ADV.D", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("consumer stepdown: %v", err)
	}
	var r struct {
		Success bool `json:"success"`
	}
	if json.Unmarshal(resp.Data, &r) != nil || !r.Success {
		t.Fatalf("consumer stepdown: %s", resp.Data)
	}
	for {
		m, a = next("leader elected after stepdown")
		if m.Subject == "$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.ADV.D" {
			break
		}
	}
	if a.Leader == "" || a.Leader == first || a.Consumer != "D" {
		t.Fatalf("advisory after stepdown: %s (first leader %s)", m.Data, first)
	}
}
