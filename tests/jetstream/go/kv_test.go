package jetstreamtest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Key-value buckets through nats.go 1.22 (buckets are streams `KV_<bucket>`
// with per-subject history, rollup headers for purges and direct gets), on
// one node and on an R3 cluster, validated against nats-server 2.9.10:
// create/put/get/update/delete/purge with revisions, history limits, keys,
// watchers (initial values, the end-of-initial marker, updates, deletes,
// UpdatesOnly-style IgnoreDeletes), PurgeDeletes, TTL expiry, status, bucket
// deletion, and on R3 the same through a stream leader step-down.

func kvEntryString(e nats.KeyValueEntry) string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s=%q rev %d op %v", e.Key(), e.Value(), e.Revision(), e.Operation())
}

// nextEntry reads one watcher update within 5 s (nil is the end-of-initial
// marker).
func nextEntry(t *testing.T, w nats.KeyWatcher) nats.KeyValueEntry {
	t.Helper()
	select {
	case e := <-w.Updates():
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no watcher update within 5 s")
	}
	return nil
}

// atLeader gives a JetStream context connected to the node that leads
// `stream`: direct gets (which nats.go's KV Get uses) are answered by the
// replica on the client's node, and only the leader is sure to have applied
// what was just acknowledged (on both servers).
type atLeader func(stream string) nats.JetStreamContext

// settled checks a read through a direct get: at once on one node; on R3
// within 5 s, since a direct get may be answered by a replica that has not
// applied the latest write yet (nats-server 2.9.10 does that too: direct
// gets are not linearizable).
func settled(t *testing.T, replicas int, what string, check func() error) {
	t.Helper()
	if replicas == 1 {
		if err := check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	waitFor(t, 5*time.Second, what, check)
}

func kvScenario(t *testing.T, js nats.JetStreamContext, replicas int, lead atLeader) {
	t.Helper()
	bucket := fmt.Sprintf("CFG%d", replicas)
	if _, err := js.CreateKeyValue(&nats.KeyValueConfig{
		Bucket: bucket, Description: "settings", History: 3, MaxValueSize: 1024, Replicas: replicas,
	}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	js = lead("KV_" + bucket)
	kv, err := js.KeyValue(bucket)
	if err != nil {
		t.Fatalf("bind bucket: %v", err)
	}
	st, err := kv.Status()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Bucket() != bucket || st.History() != 3 || st.Values() != 0 {
		t.Fatalf("status of a new bucket: %s history %d values %d", st.Bucket(), st.History(), st.Values())
	}
	si, err := js.StreamInfo("KV_" + bucket)
	if err != nil {
		t.Fatalf("bucket stream: %v", err)
	}
	if !si.Config.AllowDirect || !si.Config.AllowRollup || !si.Config.DenyDelete ||
		si.Config.MaxMsgsPerSubject != 3 || si.Config.Replicas != replicas ||
		len(si.Config.Subjects) != 1 || si.Config.Subjects[0] != "$KV."+bucket+".>" {
		t.Fatalf("bucket stream config: %+v", si.Config)
	}

	// Put, Get, Create on an existing key, Update with a stale and a current revision.
	r1, err := kv.PutString("app.port", "4222")
	if err != nil || r1 != 1 {
		t.Fatalf("put: rev %d %v", r1, err)
	}
	settled(t, replicas, "get", func() error {
		e, err := kv.Get("app.port")
		if err != nil || string(e.Value()) != "4222" || e.Revision() != 1 || e.Operation() != nats.KeyValuePut {
			return fmt.Errorf("%s %v", kvEntryString(e), err)
		}
		return nil
	})
	if _, err := kv.Create("app.port", []byte("1")); !errors.Is(err, nats.ErrKeyExists) {
		t.Fatalf("create of an existing key: %v, want ErrKeyExists", err)
	}
	if _, err := kv.Update("app.port", []byte("1"), 7); err == nil ||
		!strings.Contains(err.Error(), "wrong last sequence") {
		t.Fatalf("update at a stale revision: %v", err)
	}
	r2, err := kv.Update("app.port", []byte("4333"), r1)
	if err != nil || r2 != 2 {
		t.Fatalf("update: rev %d %v", r2, err)
	}
	if _, err := kv.Create("app.host", []byte("localhost")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if old, err := kv.GetRevision("app.port", 1); err != nil || string(old.Value()) != "4222" {
		t.Fatalf("get revision 1: %s %v", kvEntryString(old), err)
	}
	settled(t, replicas, "get revision 3 (another key's)", func() error {
		if _, err := kv.GetRevision("app.port", 3); !errors.Is(err, nats.ErrKeyNotFound) {
			return fmt.Errorf("%v, want ErrKeyNotFound", err)
		}
		return nil
	})
	if _, err := kv.Get("nope"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if _, err := kv.Put("bad key", []byte("x")); !errors.Is(err, nats.ErrInvalidKey) {
		t.Fatalf("put of an invalid key: %v", err)
	}
	if _, err := kv.Put("big", make([]byte, 2048)); err == nil {
		t.Fatalf("a value over max_value_size was stored")
	}

	// History keeps the last 3 revisions of a key.
	for i := 0; i < 5; i++ {
		if _, err := kv.PutString("app.level", fmt.Sprintf("v%d", i)); err != nil {
			t.Fatalf("put level: %v", err)
		}
	}
	h, err := kv.History("app.level")
	if err != nil || len(h) != 3 || string(h[0].Value()) != "v2" || string(h[2].Value()) != "v4" {
		t.Fatalf("history: %d entries %v", len(h), err)
	}

	// A watcher: initial values (latest per key), the nil marker, then updates.
	w, err := kv.Watch("app.*")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	initial := map[string]string{}
	for {
		e := nextEntry(t, w)
		if e == nil {
			break
		}
		initial[e.Key()] = string(e.Value())
	}
	want := map[string]string{"app.port": "4333", "app.host": "localhost", "app.level": "v4"}
	if fmt.Sprint(initial) != fmt.Sprint(want) {
		t.Fatalf("initial values %v, want %v", initial, want)
	}

	// Delete: Get says not found, the watcher sees a delete, Create works again.
	if err := kv.Delete("app.host"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if e := nextEntry(t, w); e == nil || e.Key() != "app.host" || e.Operation() != nats.KeyValueDelete {
		t.Fatalf("watcher after delete: %s", kvEntryString(e))
	}
	settled(t, replicas, "get of a deleted key", func() error {
		if _, err := kv.Get("app.host"); !errors.Is(err, nats.ErrKeyNotFound) {
			return fmt.Errorf("%v, want ErrKeyNotFound", err)
		}
		return nil
	})
	if _, err := kv.Create("app.host", []byte("example")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	if e := nextEntry(t, w); e == nil || e.Key() != "app.host" || string(e.Value()) != "example" {
		t.Fatalf("watcher after re-create: %s", kvEntryString(e))
	}
	// Delete only at the right revision.
	if err := kv.Delete("app.host", nats.LastRevision(1)); err == nil {
		t.Fatalf("delete at a stale revision succeeded")
	}

	// Purge: one purge marker is all the history left.
	if err := kv.Purge("app.level"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if e := nextEntry(t, w); e == nil || e.Key() != "app.level" || e.Operation() != nats.KeyValuePurge {
		t.Fatalf("watcher after purge: %s", kvEntryString(e))
	}
	h, err = kv.History("app.level")
	if err != nil || len(h) != 1 || h[0].Operation() != nats.KeyValuePurge {
		t.Fatalf("history after purge: %d entries %v", len(h), err)
	}

	keys, err := kv.Keys()
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "app.host,app.port" {
		t.Fatalf("keys: %v", keys)
	}

	// PurgeDeletes drops the markers (and what they cover); the live keys stay.
	if err := kv.Delete("app.host"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := kv.PurgeDeletes(nats.DeleteMarkersOlderThan(-1)); err != nil {
		t.Fatalf("purge deletes: %v", err)
	}
	if _, err := kv.History("app.level"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("history of a purged key after PurgeDeletes: %v", err)
	}
	keys, err = kv.Keys()
	if err != nil || strings.Join(keys, ",") != "app.port" {
		t.Fatalf("keys after PurgeDeletes: %v %v", keys, err)
	}
	st, err = kv.Status()
	if err != nil || st.Values() != 2 { // app.port's two revisions
		t.Fatalf("values after PurgeDeletes: %v %v", st.Values(), err)
	}

	// A watcher that skips deletes and starts with no initial values.
	w2, err := kv.WatchAll(nats.IgnoreDeletes())
	if err != nil {
		t.Fatalf("watch all: %v", err)
	}
	defer w2.Stop()
	if e := nextEntry(t, w2); e == nil || e.Key() != "app.port" {
		t.Fatalf("watch all initial: %s", kvEntryString(e))
	}
	if e := nextEntry(t, w2); e != nil {
		t.Fatalf("watch all: no end-of-initial marker, got %s", kvEntryString(e))
	}
	if err := kv.Delete("app.port"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := kv.PutString("db.url", "postgres://"); err != nil {
		t.Fatalf("put: %v", err)
	}
	if e := nextEntry(t, w2); e == nil || e.Key() != "db.url" {
		t.Fatalf("watch all ignoring deletes: %s", kvEntryString(e))
	}

	if _, err := kv.Keys(); err != nil {
		t.Fatalf("keys with one live key: %v", err)
	}
	if err := kv.Delete("db.url"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := kv.Keys(); !errors.Is(err, nats.ErrNoKeysFound) {
		t.Fatalf("keys of a bucket with no live key: %v, want ErrNoKeysFound", err)
	}

	// Bucket deletion.
	if err := js.DeleteKeyValue(bucket); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}
	if _, err := js.KeyValue(bucket); !errors.Is(err, nats.ErrBucketNotFound) {
		t.Fatalf("bucket after deletion: %v, want ErrBucketNotFound", err)
	}
}

func kvTTLScenario(t *testing.T, js nats.JetStreamContext, replicas int, lead atLeader) {
	t.Helper()
	bucket := fmt.Sprintf("SESSIONS%d", replicas)
	if _, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: bucket, TTL: time.Second, Replicas: replicas}); err != nil {
		t.Fatalf("create TTL bucket: %v", err)
	}
	kv, err := lead("KV_" + bucket).KeyValue(bucket)
	if err != nil {
		t.Fatalf("bind TTL bucket: %v", err)
	}
	st, err := kv.Status()
	if err != nil || st.TTL() != time.Second {
		t.Fatalf("TTL status: %v %v", st, err)
	}
	if _, err := kv.PutString("s1", "alive"); err != nil {
		t.Fatalf("put: %v", err)
	}
	settled(t, replicas, "get before expiry", func() error {
		_, err := kv.Get("s1")
		return err
	})
	waitFor(t, 15*time.Second, "the entry to expire", func() error {
		_, err := kv.Get("s1")
		if errors.Is(err, nats.ErrKeyNotFound) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}

func TestKeyValueSingleNode(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "kv")
	same := func(string) nats.JetStreamContext { return js }
	kvScenario(t, js, 1, same)
	kvTTLScenario(t, js, 1, same)
}

func TestKeyValueR3(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	nc, js := connect(t, c.URLs(), "kv")
	lead := func(stream string) nats.JetStreamContext {
		_, at := connect(t, c.ByName(leaderOf(t, js, stream, 10*time.Second)).URL(), "kv-"+stream)
		return at
	}
	kvScenario(t, js, 3, lead)
	kvTTLScenario(t, js, 3, lead)

	// Through a leader change: what was written is read back, writes go on,
	// and a revision check still holds.
	kv, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "FAILOVER", History: 2, Replicas: 3})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	rev := uint64(0)
	for i := 0; i < 20; i++ {
		if rev, err = kv.PutString(fmt.Sprintf("k%d", i%5), fmt.Sprint(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	before := leaderOf(t, js, "KV_FAILOVER", 10*time.Second)
	if err := stepDown(nc, "KV_FAILOVER"); err != nil {
		t.Fatalf("step down: %v", err)
	}
	waitFor(t, 15*time.Second, "a new leader", func() error {
		if l := leaderOf(t, js, "KV_FAILOVER", 10*time.Second); l == before {
			return fmt.Errorf("still %s", l)
		}
		return nil
	})
	kv, err = lead("KV_FAILOVER").KeyValue("FAILOVER")
	if err != nil {
		t.Fatalf("bind at the new leader: %v", err)
	}
	for i := 15; i < 20; i++ {
		settled(t, 3, "get after step-down", func() error {
			e, err := kv.Get(fmt.Sprintf("k%d", i%5))
			if err != nil || string(e.Value()) != fmt.Sprint(i) {
				return fmt.Errorf("%s %v", kvEntryString(e), err)
			}
			return nil
		})
	}
	if _, err := kv.Update("k4", []byte("next"), rev); err != nil {
		t.Fatalf("update at the current revision after step-down: %v", err)
	}
	if _, err := kv.Update("k4", []byte("again"), rev); err == nil {
		t.Fatalf("update at a stale revision after step-down succeeded")
	}
	keys, err := kv.Keys()
	if err != nil || len(keys) != 5 {
		t.Fatalf("keys after step-down: %v %v", keys, err)
	}
}

// A KV get (a direct get) through any node sees every put acknowledged
// before it was sent: the client's own puts, and another client's through
// another node. Herald's followers hand direct gets to the stream's leader;
// nats-server 2.9.10 answers from whichever replica receives them, and there
// a get right after a put reads the older value in 1-4 % of tries, so this
// runs on Herald only (the Herald build before: 63-139 of 500 through a
// follower).
func TestKeyValueGetSeesAcknowledgedPutsThroughEveryNode(t *testing.T) {
	if serverKind() != "herald" {
		t.Skip("nats-server 2.9.10 serves direct gets from followers as they are")
	}
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, js := connect(t, c.URLs(), "kv-ryw")
	if _, err := js.CreateKeyValue(&nats.KeyValueConfig{Bucket: "RYW", History: 1, Replicas: 3}); err != nil {
		t.Fatalf("create: %v", err)
	}
	leader := leaderOf(t, js, "KV_RYW", 10*time.Second)
	for _, n := range c.Nodes {
		_, jsn := connect(t, n.URL(), "kv-ryw-"+n.Name)
		kv, err := jsn.KeyValue("RYW")
		if err != nil {
			t.Fatalf("bind through %s: %v", n.Name, err)
		}
		var stale []string
		for i := 0; i < 150; i++ {
			rev, err := kv.PutString("own", fmt.Sprintf("%s.%d", n.Name, i))
			if err != nil {
				t.Fatalf("put through %s: %v", n.Name, err)
			}
			e, err := kv.Get("own")
			if err != nil {
				t.Fatalf("get through %s: %v", n.Name, err)
			}
			if e.Revision() != rev {
				stale = append(stale, fmt.Sprintf("%d:%d", rev, e.Revision()))
			}
		}
		if len(stale) > 0 {
			t.Errorf("through %s (leader %s), put revision:get revision: %v", n.Name, leader, stale)
		}
	}

	// A writer through one node, readers through the two others: each get
	// returns at least the revision acknowledged to the writer before it.
	_, jsw := connect(t, c.Nodes[0].URL(), "kv-ryw-writer")
	writer, err := jsw.KeyValue("RYW")
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Uint64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			rev, err := writer.PutString("shared", fmt.Sprint(i))
			if err != nil {
				done <- err
				return
			}
			acked.Store(rev)
		}
	}()
	for _, n := range c.Nodes[1:] {
		_, jsr := connect(t, n.URL(), "kv-ryw-reader-"+n.Name)
		reader, err := jsr.KeyValue("RYW")
		if err != nil {
			t.Fatal(err)
		}
		behind := 0
		for i := 0; i < 200; i++ {
			floor := acked.Load()
			e, err := reader.Get("shared")
			if err == nats.ErrKeyNotFound && floor == 0 {
				continue
			}
			if err != nil {
				t.Fatalf("get through %s: %v", n.Name, err)
			}
			if e.Revision() < floor {
				behind++
			}
		}
		if behind > 0 {
			t.Errorf("through %s: %d of 200 gets older than a put already acknowledged to the writer", n.Name, behind)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if acked.Load() == 0 {
		t.Fatal("the writer never got a put acknowledged")
	}
}
