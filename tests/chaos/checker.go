package main

// Checker: after every fault is healed and STREAM.INFO shows every replica
// current, read the stream from each replica on its own (a client connected
// to that node only, $JS.API.DIRECT.GET.<stream> {"seq":N}: a node holding a
// replica answers from its own store) and check
//   (a) every acknowledged publish is at its acknowledged seq with its payload,
//   (b) every replica holds the identical message at every sequence,
//   (c) no stored message was never published,
//   (d) every consumer received every acknowledged message (duplicates counted).

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

type stored struct {
	Subject string
	Data    string
	ID      string
	TS      string
}

type replicaRead struct {
	Node       string
	Msgs       map[uint64]stored
	NotFound   map[uint64]bool
	Unanswered []uint64
	CaughtUp   bool
	ReadMs     float64
	Err        string
}

const directBatch = 500

// readReplica reads seqs [first, last+extra] from the node at url alone, in
// pipelined windows of directBatch requests, retrying unanswered ones, all
// within budget.
func readReplica(name, url string, first, last, extra uint64, budget time.Duration) *replicaRead {
	return readStreamReplica(streamName, name, url, first, last, extra, budget)
}

// localDirectGet: a direct get of seq that the receiving node's replica
// answers from its own copy: Herald's followers hand plain direct gets to the
// stream's leader (read-your-writes), `Herald-Direct: local` opts out of
// that; nats-server ignores the header.
func localDirectGet(api, reply string, seq uint64) *nats.Msg {
	m := nats.NewMsg(api)
	m.Reply = reply
	m.Header.Set("Herald-Direct", "local")
	m.Data = []byte(fmt.Sprintf(`{"seq":%d}`, seq))
	return m
}

// readStreamReplica: readReplica for any stream with allow_direct.
func readStreamReplica(stream, name, url string, first, last, extra uint64, budget time.Duration) *replicaRead {
	rr := &replicaRead{Node: name, Msgs: map[uint64]stored{}, NotFound: map[uint64]bool{}}
	start := time.Now()
	deadline := start.Add(budget)
	nc, err := nats.Connect(url, pinURL(url), nats.Name("check-"+name), nats.Timeout(2*time.Second), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	defer nc.Close()
	api := "$JS.API.DIRECT.GET." + stream
	// wait until this replica has applied up to last (bounded)
	if last > 0 {
		rr.CaughtUp = retry(30*time.Second, func() error {
			m, err := nc.RequestMsg(localDirectGet(api, "", last), 2*time.Second)
			if err != nil {
				return err
			}
			if st := m.Header.Get("Status"); st != "" {
				return fmt.Errorf("seq %d: status %s", last, st)
			}
			return nil
		}) == nil
	}
	inbox := nats.NewInbox()
	var mu sync.Mutex
	answered := map[uint64]bool{}
	cond := make(chan struct{}, 1)
	sub, err := nc.Subscribe(inbox+".*", func(m *nats.Msg) {
		seq, err := strconv.ParseUint(m.Subject[len(inbox)+1:], 10, 64)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if answered[seq] {
			return
		}
		answered[seq] = true
		if st := m.Header.Get("Status"); st == "404" {
			rr.NotFound[seq] = true
		} else if st != "" {
			answered[seq] = false // 408 etc.: ask again
			return
		} else {
			if s := m.Header.Get("Nats-Sequence"); s != strconv.FormatUint(seq, 10) {
				rr.Msgs[seq] = stored{Subject: "BAD-SEQ-HEADER:" + s}
			} else {
				rr.Msgs[seq] = stored{Subject: m.Header.Get("Nats-Subject"), Data: string(m.Data),
					ID: m.Header.Get(nats.MsgIdHdr), TS: m.Header.Get("Nats-Time-Stamp")}
			}
		}
		select {
		case cond <- struct{}{}:
		default:
		}
	})
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	sub.SetPendingLimits(-1, -1)
	var pending []uint64
	for s := first; s <= last+extra; s++ {
		if s > 0 {
			pending = append(pending, s)
		}
	}
	for round := 0; round < 8 && len(pending) > 0 && time.Now().Before(deadline); round++ {
		var still []uint64
		for i := 0; i < len(pending); i += directBatch {
			j := i + directBatch
			if j > len(pending) {
				j = len(pending)
			}
			win := pending[i:j]
			for _, s := range win {
				nc.PublishMsg(localDirectGet(api, inbox+"."+strconv.FormatUint(s, 10), s))
			}
			nc.Flush()
			wdl := time.Now().Add(3 * time.Second)
			for {
				mu.Lock()
				n := 0
				for _, s := range win {
					if answered[s] {
						n++
					}
				}
				mu.Unlock()
				if n == len(win) || time.Now().After(wdl) || time.Now().After(deadline) {
					break
				}
				select {
				case <-cond:
				case <-time.After(50 * time.Millisecond):
				}
			}
			mu.Lock()
			for _, s := range win {
				if !answered[s] {
					still = append(still, s)
				}
			}
			mu.Unlock()
			if time.Now().After(deadline) {
				still = append(still, pending[j:]...)
				break
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	sub.Unsubscribe()
	mu.Lock()
	rr.Unanswered = pending
	mu.Unlock()
	rr.ReadMs = ms(time.Since(start))
	return rr
}

type ConsumerResult struct {
	Name                string `json:"name"`
	Deliveries          int64  `json:"deliveries"`
	Distinct            int    `json:"distinct"`
	Duplicates          int64  `json:"duplicates"`
	RedeliveredAfterAck int64  `json:"redelivered_after_ack"`
	// Deliveries older than the one whose AckSync was confirmed, read after
	// it (held up in the network): at least once, not a redelivery.
	StaleReadAfterAck int64    `json:"stale_read_after_ack"`
	MissingAcked      int      `json:"missing_acked"`
	MissingExamples   []uint64 `json:"missing_examples,omitempty"`
	WrongPayload      int      `json:"wrong_payload"`
	Examples          []string `json:"wrong_examples,omitempty"`
	AckErrors         int64    `json:"ack_errors"`
	FetchErrors       int64    `json:"fetch_errors"`
	SubscribeErrors   int64    `json:"subscribe_errors"`
	LastError         string   `json:"last_error,omitempty"`
}

type CheckResult struct {
	FirstSeq, LastSeq  uint64
	StreamMsgs         uint64
	Leader             string
	Replicas           []string
	Lost               int
	LostExamples       []string
	LostOnNode         map[string]int
	Divergent          int
	DivergentExamples  []string
	TSMismatch         int
	Unexpected         int
	UnexpectedExamples []string
	StoredTwice        int
	StoredTwiceEx      []string
	Holes              int
	ReplicaMsgs        map[string]int
	ReplicaUnanswered  map[string]int
	ReplicaNotCaughtUp []string
	ReadMs             map[string]float64
	Consumers          []ConsumerResult
	Problems           []string
	LocalDirect        map[string]string
	Timestamps         *TSStats // clock.go
}

func addEx(list *[]string, s string) {
	if len(*list) < 10 {
		*list = append(*list, s)
	}
}

func (r *Run) check(si *nats.StreamInfo) *CheckResult {
	cr := &CheckResult{LostOnNode: map[string]int{}, ReplicaMsgs: map[string]int{}, ReplicaUnanswered: map[string]int{}, ReadMs: map[string]float64{}}
	cr.FirstSeq, cr.LastSeq, cr.StreamMsgs = si.State.FirstSeq, si.State.LastSeq, si.State.Msgs
	cr.Leader = si.Cluster.Leader
	cr.Replicas = []string{cr.Leader}
	for _, p := range si.Cluster.Replicas {
		cr.Replicas = append(cr.Replicas, p.Name)
	}
	sort.Strings(cr.Replicas[1:])
	const extra = 5
	reads := make([]*replicaRead, len(cr.Replicas))
	var wg sync.WaitGroup
	for i, name := range cr.Replicas {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			reads[i] = readReplica(name, r.c.ByName(name).URL(), cr.FirstSeq, cr.LastSeq, extra, r.readBudget)
		}(i, name)
	}
	wg.Wait()
	for _, rd := range reads {
		cr.ReplicaMsgs[rd.Node] = len(rd.Msgs)
		cr.ReplicaUnanswered[rd.Node] = len(rd.Unanswered)
		cr.ReadMs[rd.Node] = rd.ReadMs
		if !rd.CaughtUp && cr.LastSeq > 0 {
			cr.ReplicaNotCaughtUp = append(cr.ReplicaNotCaughtUp, rd.Node)
		}
		if rd.Err != "" {
			cr.Problems = append(cr.Problems, fmt.Sprintf("reading %s: %s", rd.Node, rd.Err))
		}
		if len(rd.Unanswered) > 0 {
			cr.Problems = append(cr.Problems, fmt.Sprintf("%s: %d direct gets unanswered (first %d)", rd.Node, len(rd.Unanswered), rd.Unanswered[0]))
		}
	}
	if cr.LastSeq > 0 {
		cr.LocalDirect = verifyLocalDirect(r.c, cr.Replicas, cr.LastSeq)
	}
	h := r.h
	h.mu.Lock()
	acked := make(map[string]ackRec, len(h.acked))
	for k, v := range h.acked {
		acked[k] = v
	}
	attempted := make(map[string]bool, len(h.attempted))
	for k := range h.attempted {
		attempted[k] = true
	}
	h.mu.Unlock()
	leaderView := reads[0]
	cr.Timestamps = timestampStats(leaderView, acked)
	// (a) acknowledged publishes, on the leader and on each replica
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := acked[id]
		for i, rd := range reads {
			m, ok := rd.Msgs[a.Seq]
			if ok && m.ID == id && m.Data == payloadFor(id) {
				continue
			}
			desc := "absent"
			if ok {
				desc = fmt.Sprintf("holds id=%q data=%q", m.ID, m.Data)
			} else if !rd.NotFound[a.Seq] {
				desc = "unread"
			}
			if i == 0 {
				cr.Lost++
				addEx(&cr.LostExamples, fmt.Sprintf("%s acked at seq %d (ack +%.3fs): leader %s %s", id, a.Seq, a.At.Sub(r.t0).Seconds(), rd.Node, desc))
			}
			if rd.NotFound[a.Seq] || ok {
				cr.LostOnNode[rd.Node]++
			}
		}
	}
	// (b) identical at every sequence on every replica; (c) nothing unpublished
	for s := cr.FirstSeq; s <= cr.LastSeq+extra; s++ {
		if s == 0 {
			continue
		}
		var ref *stored
		refNode := ""
		diverge, tsdiff, presentAny := false, false, false
		var parts []string
		for _, rd := range reads {
			m, ok := rd.Msgs[s]
			if !ok && !rd.NotFound[s] {
				parts = append(parts, rd.Node+":unread")
				continue
			}
			if ok {
				presentAny = true
				parts = append(parts, fmt.Sprintf("%s:%s", rd.Node, m.ID))
			} else {
				parts = append(parts, rd.Node+":404")
			}
			if refNode == "" {
				refNode = rd.Node
				if ok {
					mm := m
					ref = &mm
				}
				continue
			}
			if (ref == nil) != !ok {
				diverge = true
			} else if ref != nil && (ref.ID != m.ID || ref.Data != m.Data || ref.Subject != m.Subject) {
				diverge = true
			} else if ref != nil && ref.TS != m.TS {
				tsdiff = true
			}
		}
		if diverge {
			cr.Divergent++
			addEx(&cr.DivergentExamples, fmt.Sprintf("seq %d: %s", s, strings.Join(parts, " ")))
		}
		if tsdiff {
			cr.TSMismatch++
		}
		if !presentAny && s >= cr.FirstSeq && s <= cr.LastSeq {
			cr.Holes++
		}
	}
	for _, rd := range reads {
		for s, m := range rd.Msgs {
			if !attempted[m.ID] || m.Data != payloadFor(m.ID) || !strings.HasPrefix(m.Subject, subjPrefix) {
				cr.Unexpected++
				addEx(&cr.UnexpectedExamples, fmt.Sprintf("%s seq %d: id=%q subject=%q data=%q", rd.Node, s, m.ID, m.Subject, m.Data))
			}
		}
	}
	byID := map[string][]uint64{}
	for s, m := range leaderView.Msgs {
		byID[m.ID] = append(byID[m.ID], s)
	}
	for id, seqs := range byID {
		if len(seqs) > 1 {
			cr.StoredTwice++
			sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
			addEx(&cr.StoredTwiceEx, fmt.Sprintf("%s at seqs %v", id, seqs))
		}
	}
	// (d) consumers: wait (bounded) for every acked seq, then stop them
	var ackedSeqs []uint64
	for _, a := range acked {
		ackedSeqs = append(ackedSeqs, a.Seq)
	}
	sort.Slice(ackedSeqs, func(i, j int) bool { return ackedSeqs[i] < ackedSeqs[j] })
	// Wait while they make progress: give up after 20 s without any new
	// message received by a consumer that still misses some, or after
	// consumerWait in all.
	waitStart := time.Now()
	lastProgress, lastDistinct := time.Now(), -1
	for i := 0; ; i++ {
		missing, distinct := 0, 0
		var desc []string
		for _, c := range r.w.cons {
			m := len(c.missing(ackedSeqs))
			missing += m
			c.mu.Lock()
			distinct += len(c.seen)
			desc = append(desc, fmt.Sprintf("%s %d received, %d acked missing", c.Name, len(c.seen), m))
			c.mu.Unlock()
		}
		if distinct != lastDistinct {
			lastDistinct, lastProgress = distinct, time.Now()
		}
		if i%10 == 0 || missing == 0 {
			r.logf("consumers: %s", strings.Join(desc, "; "))
		}
		if missing == 0 || time.Since(waitStart) > r.consumerWait || time.Since(lastProgress) > 20*time.Second {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	r.w.cstop.Store(true)
	waitGroup(&r.w.cwg, 10*time.Second)
	for _, c := range r.w.cons {
		miss := c.missing(ackedSeqs)
		c.mu.Lock()
		res := ConsumerResult{Name: c.Name, Deliveries: c.deliveries, Distinct: len(c.seen), Duplicates: c.dups,
			RedeliveredAfterAck: c.afterAck, StaleReadAfterAck: c.staleAfterAck, MissingAcked: len(miss), AckErrors: c.ackErrs, FetchErrors: c.fetchErrs,
			SubscribeErrors: c.subscribeErrs, LastError: c.lastErr}
		if len(miss) > 10 {
			miss = miss[:10]
		}
		res.MissingExamples = miss
		for s, p := range c.seen {
			if m, ok := leaderView.Msgs[s]; ok && m.Data != p {
				res.WrongPayload++
				addEx(&res.Examples, fmt.Sprintf("seq %d: consumer got %q, stream holds %q", s, p, m.Data))
			} else if !ok {
				res.WrongPayload++
				addEx(&res.Examples, fmt.Sprintf("seq %d: consumer got %q, stream has no message there", s, p))
			}
		}
		res.Examples = append(res.Examples, c.mismatch...)
		c.mu.Unlock()
		cr.Consumers = append(cr.Consumers, res)
	}
	return cr
}

// verifyLocalDirect: evidence that a direct get through a replica's own
// client port is answered by that node from its own store: every other node
// is paused (SIGSTOP) while one DIRECT.GET is sent to it, then resumed. An
// answer can then only come from the node itself.
func verifyLocalDirect(c *Cluster, replicas []string, seq uint64) map[string]string {
	out := map[string]string{}
	api := "$JS.API.DIRECT.GET." + streamName
	for _, name := range replicas {
		node := c.ByName(name)
		nc, err := nats.Connect(node.URL(), pinURL(node.URL()), nats.Name("local-check"), nats.Timeout(2*time.Second))
		if err != nil {
			out[name] = "connect: " + err.Error()
			continue
		}
		// warm: one answered request first
		if _, err := nc.RequestMsg(localDirectGet(api, "", seq), 2*time.Second); err != nil {
			out[name] = "no answer even with all nodes running: " + err.Error()
			nc.Close()
			continue
		}
		var others []*Node
		for _, n := range c.Nodes {
			if n != node {
				others = append(others, n)
			}
		}
		for _, n := range others {
			n.Pause()
		}
		start := time.Now()
		m, err := nc.RequestMsg(localDirectGet(api, "", seq), 800*time.Millisecond)
		took := time.Since(start)
		for _, n := range others {
			n.Resume()
		}
		nc.Close()
		switch {
		case err != nil:
			out[name] = fmt.Sprintf("no answer with the other nodes paused (%v): not served locally", err)
		case m.Header.Get("Status") != "":
			out[name] = fmt.Sprintf("status %s with the other nodes paused", m.Header.Get("Status"))
		default:
			out[name] = fmt.Sprintf("answered seq %s in %.1f ms with every other node paused: served locally", m.Header.Get("Nats-Sequence"), ms(took))
		}
		time.Sleep(3 * time.Second)
	}
	return out
}
