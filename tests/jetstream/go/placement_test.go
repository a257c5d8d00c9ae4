package jetstreamtest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestCreateR3WithANodeDown: with one node of three down (a rolling restart),
// an R3 stream and an R3 KV bucket can still be created, as on nats-server
// (which places a replica on the down node): they take writes at once, and
// the returning node catches up and holds a current replica.
func TestCreateR3WithANodeDown(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	down := c.Nodes[2]
	down.Kill()
	nc, js := connect(t, c.Nodes[0].URL()+","+c.Nodes[1].URL(), "while-down")
	defer nc.Close()
	// nats-server needs a few seconds to notice the node is gone.
	waitFor(t, 30*time.Second, "an R3 create with a node down", func() error {
		_, err := js.AddStream(&nats.StreamConfig{Name: "DOWN3", Subjects: []string{"down3.>"}, Replicas: 3}, nats.MaxWait(3*time.Second))
		return err
	})
	for i := 0; i < 5; i++ {
		if _, err := js.Publish("down3.a", []byte(fmt.Sprintf("m%d", i)), nats.AckWait(5*time.Second)); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var kv nats.KeyValue
	waitFor(t, 30*time.Second, "an R3 KV bucket with a node down", func() error {
		var err error
		kv, err = js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "DOWNKV", Replicas: 3})
		return err
	})
	if _, err := kv.Put("k", []byte("v")); err != nil {
		t.Fatalf("kv put: %v", err)
	}
	si, err := js.StreamInfo("DOWN3")
	if err != nil || si.Cluster == nil || len(si.Cluster.Replicas) != 2 {
		t.Fatalf("stream info: %+v %v", si, err)
	}
	down.Start()
	WaitStreamHealthy(t, js, "DOWN3", 3, 5, 60*time.Second)
	WaitStreamHealthy(t, js, "KV_DOWNKV", 3, 1, 60*time.Second)
}

// TestClusterAnswersAsNatsServer: in a cluster, an R1 stream's step-down
// succeeds (nothing to hand over) and an idempotent create is answered as a
// stream info (paging members, no did_create), as nats-server 2.9.10 does.
func TestClusterAnswersAsNatsServer(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, js := connect(t, c.URLs(), "answers")
	defer nc.Close()
	cfg := &nats.StreamConfig{Name: "ONE", Subjects: []string{"one.>"}, Replicas: 1}
	if _, err := js.AddStream(cfg); err != nil {
		t.Fatalf("add: %v", err)
	}
	var resp map[string]any
	waitFor(t, 10*time.Second, "R1 step-down", func() error {
		m, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.ONE", nil, 3*time.Second)
		if err != nil {
			return err
		}
		resp = nil
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			return err
		}
		if resp["success"] != true {
			return fmt.Errorf("reply %s", m.Data)
		}
		return nil
	})
	body, _ := json.Marshal(cfg)
	m, err := nc.Request("$JS.API.STREAM.CREATE.ONE", body, 3*time.Second)
	if err != nil {
		t.Fatalf("re-create: %v", err)
	}
	resp = nil
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatalf("re-create reply %s: %v", m.Data, err)
	}
	if _, ok := resp["did_create"]; ok || resp["error"] != nil || resp["total"] != float64(0) || resp["config"] == nil {
		t.Fatalf("re-create reply: %s", m.Data)
	}
}

// TestDeadReplicaIsNotCurrent: a replica whose node was killed is reported
// not current, also on an idle stream whose leader sends it nothing, and its
// `active` (time since it was last heard from) grows, as nats-server reports
// it; once the node is back the replica is current again.
func TestDeadReplicaIsNotCurrent(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, js := connect(t, c.URLs(), "dead")
	defer nc.Close()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "IDLE", Subjects: []string{"idle"}, Replicas: 3}); err != nil {
		t.Fatalf("add: %v", err)
	}
	if _, err := js.Publish("idle", []byte("x")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	WaitStreamHealthy(t, js, "IDLE", 3, 1, 20*time.Second)
	leader := leaderOf(t, js, "IDLE", 10*time.Second)
	down := c.NotNamed(leader)
	down.Kill()
	var firstActive time.Duration
	waitFor(t, 30*time.Second, down.Name+" reported not current", func() error {
		si, err := js.StreamInfo("IDLE", nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		for _, r := range si.Cluster.Replicas {
			if r.Name == down.Name {
				if r.Current {
					return fmt.Errorf("%s still current (active %v)", r.Name, r.Active)
				}
				firstActive = r.Active
				return nil
			}
		}
		return fmt.Errorf("no replica %s in %+v", down.Name, si.Cluster.Replicas)
	})
	waitFor(t, 10*time.Second, "active to grow", func() error {
		si, err := js.StreamInfo("IDLE", nats.MaxWait(2*time.Second))
		if err != nil {
			return err
		}
		for _, r := range si.Cluster.Replicas {
			if r.Name == down.Name && r.Active > firstActive {
				return nil
			}
		}
		return fmt.Errorf("active not above %v", firstActive)
	})
	down.Start()
	WaitStreamHealthy(t, js, "IDLE", 3, 1, 60*time.Second)
}
