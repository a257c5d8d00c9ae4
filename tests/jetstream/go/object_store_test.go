package jetstreamtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The object store through nats.go (buckets are streams with rollup and
// direct-get-free chunk subjects; objects are chunks plus a rolled-up meta
// message), on one node and on an R3 cluster, validated against nats-server
// 2.9.10: put and get of objects from empty to several MB, digests, info,
// list, overwrite, delete, links, watch, bucket status and deletion.

func objectPayload(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func getObject(t *testing.T, obs nats.ObjectStore, name string) []byte {
	t.Helper()
	r, err := obs.Get(name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return got
}

func exerciseObjectStore(t *testing.T, js nats.JetStreamContext, bucket string, replicas int) {
	obs, err := js.CreateObjectStore(&nats.ObjectStoreConfig{Bucket: bucket, Description: "objects", Replicas: replicas})
	if err != nil {
		t.Fatalf("create object store: %v", err)
	}
	si, err := js.StreamInfo("OBJ_" + bucket)
	if err != nil {
		t.Fatalf("stream of the bucket: %v", err)
	}
	if !si.Config.AllowRollup || si.Config.Replicas != replicas {
		t.Fatalf("bucket stream config: rollup %v replicas %d", si.Config.AllowRollup, si.Config.Replicas)
	}

	sizes := map[string]int{"empty": 0, "small": 100, "one-chunk": 128 * 1024, "chunks": 3*128*1024 + 17, "large": 5 << 20}
	want := map[string][]byte{}
	for name, n := range sizes {
		data := objectPayload(n, int64(n)+1)
		want[name] = data
		info, err := obs.PutBytes(name, data)
		if err != nil {
			t.Fatalf("put %s (%d bytes): %v", name, n, err)
		}
		if info.Size != uint64(n) {
			t.Fatalf("put %s: size %d, want %d", name, info.Size, n)
		}
		wantChunks := uint32((n + 128*1024 - 1) / (128 * 1024))
		if info.Chunks != wantChunks {
			t.Fatalf("put %s: %d chunks, want %d", name, info.Chunks, wantChunks)
		}
		sum := sha256.Sum256(data)
		if want := "SHA-256=" + base64.URLEncoding.EncodeToString(sum[:]); info.Digest != want {
			t.Fatalf("put %s: digest %s, want %s", name, info.Digest, want)
		}
	}
	for name, data := range want {
		if got := getObject(t, obs, name); !bytes.Equal(got, data) {
			t.Fatalf("get %s: %d bytes back, want %d (or contents differ)", name, len(got), len(data))
		}
	}

	// Overwriting replaces the object; the old chunks are purged.
	before, err := js.StreamInfo("OBJ_" + bucket)
	if err != nil {
		t.Fatal(err)
	}
	replacement := objectPayload(200*1024, 99)
	if _, err := obs.PutBytes("large", replacement); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	if got := getObject(t, obs, "large"); !bytes.Equal(got, replacement) {
		t.Fatalf("after overwrite: %d bytes, want %d", len(got), len(replacement))
	}
	after, err := js.StreamInfo("OBJ_" + bucket)
	if err != nil {
		t.Fatal(err)
	}
	if after.State.Bytes >= before.State.Bytes {
		t.Fatalf("overwrite did not purge the old chunks: %d bytes before, %d after", before.State.Bytes, after.State.Bytes)
	}

	// Meta: description and headers survive a round trip.
	meta := &nats.ObjectMeta{Name: "small", Description: "a small one", Headers: nats.Header{"X-Kind": []string{"test"}}}
	if err := obs.UpdateMeta("small", meta); err != nil {
		t.Fatalf("update meta: %v", err)
	}
	info, err := obs.GetInfo("small")
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if info.Description != "a small one" || info.Headers.Get("X-Kind") != "test" || info.Size != 100 {
		t.Fatalf("info after meta update: %+v", info)
	}

	// Links to an object and to the bucket.
	if _, err := obs.AddLink("alias", info); err != nil {
		t.Fatalf("add link: %v", err)
	}
	if got := getObject(t, obs, "alias"); !bytes.Equal(got, want["small"]) {
		t.Fatalf("get through link: %d bytes", len(got))
	}

	list, err := obs.List()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	wantNames := []string{"alias", "chunks", "empty", "large", "one-chunk", "small"}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Fatalf("list: %v, want %v", names, wantNames)
	}

	// Watch: the current objects, then the end marker, then updates.
	w, err := obs.Watch()
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	seen := map[string]bool{}
	for done := false; !done; {
		select {
		case o := <-w.Updates():
			if o == nil {
				done = true
			} else {
				seen[o.Name] = true
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch: initial objects not delivered (saw %v)", seen)
		}
	}
	if len(seen) != len(wantNames) {
		t.Fatalf("watch saw %v, want %v", seen, wantNames)
	}
	if _, err := obs.PutString("late", "arrived after the watch began"); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-w.Updates():
		if o == nil || o.Name != "late" {
			t.Fatalf("watch update: %+v", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch: update not delivered")
	}

	// Delete: gone for get, still listed as deleted by info with ShowDeleted.
	if err := obs.Delete("chunks"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := obs.Get("chunks"); !errors.Is(err, nats.ErrObjectNotFound) {
		t.Fatalf("get after delete: %v, want ErrObjectNotFound", err)
	}
	if di, err := obs.GetInfo("chunks", nats.GetObjectInfoShowDeleted()); err != nil || !di.Deleted {
		t.Fatalf("info of a deleted object: %+v %v", di, err)
	}
	if _, err := obs.Get("never-put"); !errors.Is(err, nats.ErrObjectNotFound) {
		t.Fatalf("get of a missing object: %v", err)
	}

	// Renaming moves the meta to the new name.
	if err := obs.UpdateMeta("empty", &nats.ObjectMeta{Name: "nothing"}); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if got := getObject(t, obs, "nothing"); len(got) != 0 {
		t.Fatalf("renamed empty object has %d bytes", len(got))
	}
	if _, err := obs.GetInfo("empty"); !errors.Is(err, nats.ErrObjectNotFound) {
		t.Fatalf("old name after rename: %v", err)
	}

	// Sealed: readable, no more writes.
	if err := obs.Seal(); err != nil {
		t.Fatalf("seal: %v", err)
	}
	if _, err := obs.PutString("after-seal", "x"); err == nil {
		t.Fatal("put into a sealed bucket succeeded")
	}
	if got := getObject(t, obs, "small"); !bytes.Equal(got, want["small"]) {
		t.Fatal("sealed bucket: contents differ")
	}

	st, err := obs.Status()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.Bucket() != bucket || st.Replicas() != replicas || st.Description() != "objects" || !st.Sealed() {
		t.Fatalf("status: bucket %s replicas %d description %q", st.Bucket(), st.Replicas(), st.Description())
	}

	// Another client sees the same objects.
	obs2, err := js.ObjectStore(bucket)
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	if got := getObject(t, obs2, "one-chunk"); !bytes.Equal(got, want["one-chunk"]) {
		t.Fatal("second handle: contents differ")
	}

	if err := js.DeleteObjectStore(bucket); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}
	if _, err := js.ObjectStore(bucket); !errors.Is(err, nats.ErrStreamNotFound) {
		t.Fatalf("bind after delete: %v", err)
	}
}

func TestObjectStoreSingleNode(t *testing.T) {
	n := StartSingle(t)
	_, js := connect(t, n.URL(), "objects")
	exerciseObjectStore(t, js, "files", 1)
}

func TestObjectStoreR3(t *testing.T) {
	c := StartCluster3(t)
	c.WaitReady(30 * time.Second)
	_, js := connect(t, c.URLs(), "objects")
	exerciseObjectStore(t, js, "files3", 3)
}
