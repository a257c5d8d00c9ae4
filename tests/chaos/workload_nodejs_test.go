package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func jsTestRun(t *testing.T) (*Run, *JSWorkload) {
	dir := t.TempDir()
	r := &Run{runDir: dir, t0: time.Now(), readBudget: 20 * time.Second, consumerWait: time.Second}
	r.h = newHistory(filepath.Join(dir, "history.log"))
	r.w = &Workload{h: r.h}
	j := newJSWorkload(r)
	j.cons["JS1"] = &Consumer{Name: "JS1", seen: map[uint64]string{}, acked: map[uint64]bool{}, ackedAt: map[uint64]time.Time{},
		firstReply: map[uint64]string{}, ackedCSeq: map[uint64]uint64{}, h: r.h}
	r.w.cons = append(r.w.cons, j.cons["JS1"])
	return r, j
}

func feed(j *JSWorkload, lines ...string) {
	for _, l := range lines {
		j.handle(l)
	}
}

// The records of workload.mjs land in the History and the JS consumer as the
// Go clients' do.
func TestJSRecordsMerge(t *testing.T) {
	r, j := jsTestRun(t)
	us := time.Now().UnixMicro()
	feed(j,
		"ready",
		fmt.Sprintf("att js0-0000000 %d", us),
		fmt.Sprintf(`err js0-0000000 %d "TIMEOUT: TIMEOUT"`, us),
		fmt.Sprintf("att js0-0000000 %d", us+1000),
		fmt.Sprintf("ok js0-0000000 %d CHAOS 7 1", us+1000),
		fmt.Sprintf("att js1-0000000 %d", us),
		fmt.Sprintf(`err js1-0000000 %d "503: no responders"`, us),
		`dlv JS1 7 1 0 1 "payload-js0-0000000"`,
		"acked JS1 7 1",
		`dlv JS1 7 2 1 2 "payload-js0-0000000"`, // redelivered after a confirmed ack
		`dlv JS1 8 3 0 1 "payload with spaces \"quoted\""`,
		`cerr JS1 "TIMEOUT: TIMEOUT"`,
		"bogus line",
		"pubs-stopped")
	if r.h.attempts != 3 || !r.h.attempted["js1-0000000"] {
		t.Errorf("attempts %d, attempted %v", r.h.attempts, r.h.attempted)
	}
	if a, ok := r.h.acked["js0-0000000"]; !ok || a.Seq != 7 || !a.Dup || a.Attempt0.UnixMicro() != us+1000 {
		t.Errorf("ack not merged: %+v", r.h.acked)
	}
	if r.h.timeouts != 1 || r.h.errCount != 1 || j.res.Errors != 2 || j.res.Timeouts != 1 {
		t.Errorf("errors: history %d timeouts %d errors, js %+v", r.h.timeouts, r.h.errCount, j.res)
	}
	c := j.cons["JS1"]
	if c.deliveries != 3 || len(c.seen) != 2 || c.dups != 1 || c.afterAck != 1 || c.fetchErrs != 1 || j.res.RedeliveredFlag != 1 {
		t.Errorf("consumer: %d deliveries, %d seen, %d dups, %d after ack, %d fetch errors, %d flagged", c.deliveries, len(c.seen), c.dups, c.afterAck, c.fetchErrs, j.res.RedeliveredFlag)
	}
	if c.seen[8] != `payload with spaces "quoted"` {
		t.Errorf("payload %q", c.seen[8])
	}
	if j.res.BadRecords != 1 {
		t.Errorf("bad records %d", j.res.BadRecords)
	}
	select {
	case <-j.pubsStopped.ch:
	default:
		t.Errorf("pubs-stopped not seen")
	}
}

// The checker fails a run in which a nats.js-acknowledged id is not in the
// stream (a standalone nats-server holds the stream; skipped without it).
func TestCheckerReportsJSAckedLost(t *testing.T) {
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no nats-server")
	}
	r, j := jsTestRun(t)
	var err error
	if r.c, err = NewCluster("nats-server", bin, r.runDir, 1); err != nil {
		t.Fatal(err)
	}
	defer r.c.Shutdown()
	// standalone (a one-node cluster has no JetStream meta leader)
	n := r.c.Nodes[0]
	conf := fmt.Sprintf("server_name: %s\nlisten: %s:%d\njetstream { store_dir: %q }\n", n.Name, n.Host, n.ClientPort, filepath.Join(n.Dir, "js"))
	if err := os.WriteFile(n.ConfPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.c.StartAll(); err != nil {
		t.Fatal(err)
	}
	if r.a, err = NewAdmin(r.c); err != nil {
		t.Fatal(err)
	}
	defer r.a.Close()
	cfg := &nats.StreamConfig{Name: streamName, Subjects: []string{subjPrefix + ">"}, Replicas: 1, AllowDirect: true, Storage: nats.FileStorage}
	if err := retry(30*time.Second, func() error { _, err := r.a.JS().AddStream(cfg, nats.MaxWait(3*time.Second)); return err }); err != nil {
		t.Fatal(err)
	}
	us := time.Now().UnixMicro()
	for k := 0; k < 2; k++ { // stored: js0-0000000 at 1, js0-0000001 at 2
		id := fmt.Sprintf("js0-%07d", k)
		m := nats.NewMsg(subjPrefix + "js0")
		m.Data = []byte(payloadFor(id))
		m.Header.Set(nats.MsgIdHdr, id)
		if _, err := r.a.JS().PublishMsg(m); err != nil {
			t.Fatal(err)
		}
		feed(j, fmt.Sprintf("att %s %d", id, us), fmt.Sprintf("ok %s %d CHAOS %d 0", id, us, k+1),
			fmt.Sprintf(`dlv JS1 %d %d 0 1 "%s"`, k+1, k+1, payloadFor(id)))
	}
	// acknowledged to nats.js at seq 3, never stored
	feed(j, fmt.Sprintf("att js0-0000002 %d", us), fmt.Sprintf("ok js0-0000002 %d CHAOS 3 0", us))
	si, err := r.a.StreamInfo()
	if err != nil {
		t.Fatal(err)
	}
	if si.Cluster == nil { // standalone: the one node holds the stream
		si.Cluster = &nats.ClusterInfo{Leader: n.Name}
	}
	cr := r.check(si)
	if cr.Lost != 1 || len(cr.LostExamples) != 1 || !strings.Contains(cr.LostExamples[0], "js0-0000002 acked at seq 3") {
		t.Errorf("lost %d %v", cr.Lost, cr.LostExamples)
	}
	var js1 *ConsumerResult
	for i := range cr.Consumers {
		if cr.Consumers[i].Name == "JS1" {
			js1 = &cr.Consumers[i]
		}
	}
	if js1 == nil || js1.MissingAcked != 1 || len(js1.MissingExamples) != 1 || js1.MissingExamples[0] != 3 {
		t.Errorf("JS1: %+v", js1)
	}
	res := &Result{}
	r.fill(res, cr)
	j.finish(res, func(f string, a ...interface{}) { res.Failures = append(res.Failures, fmt.Sprintf(f, a...)) })
	all := strings.Join(res.Failures, "\n")
	if !strings.Contains(all, "1 acknowledged publishes lost") || !strings.Contains(all, "consumer JS1 never received 1") {
		t.Errorf("failures: %s", all)
	}
	if res.JS == nil || res.JS.Acked != 3 || res.JS.MissingAcked != 1 || res.JS.Received != 2 {
		t.Errorf("js result %+v", res.JS)
	}
}

// Without node, workload.mjs or the nats package the JS workload is skipped
// (and says why), not failed.
func TestJSSkipped(t *testing.T) {
	defer func(n, d string) { *jsNodeFlag, *jsDirFlag = n, d }(*jsNodeFlag, *jsDirFlag)
	r, _ := jsTestRun(t)
	empty := t.TempDir()
	withScript := t.TempDir()
	if err := os.WriteFile(filepath.Join(withScript, "workload.mjs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ node, dir, want string }{
		{"no-such-node-binary", "", "no Node.js"},
		{"sh", empty, "workload.mjs not found"},
		{"sh", withScript, "the nats npm package is not installed"},
	} {
		*jsNodeFlag, *jsDirFlag = tc.node, tc.dir
		j, err := r.startJS()
		if err != nil || !strings.Contains(j.res.Skipped, tc.want) {
			t.Errorf("%+v: skipped %q, err %v", tc, j.res.Skipped, err)
		}
		res := &Result{}
		j.finish(res, func(f string, a ...interface{}) { t.Errorf("failed: "+f, a...) })
		if res.JS == nil || res.JS.Skipped == "" {
			t.Errorf("%+v: result %+v", tc, res.JS)
		}
	}
}
