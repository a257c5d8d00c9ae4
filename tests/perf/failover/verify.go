package main

// Replica check, the method of tests/jetstream/go/durability_test.go: the
// stream leader is stepped down until every node has led once, and while each
// node leads, every sequence is read through STREAM.MSG.GET (answered by the
// leader from its own store). The reads are then compared with each other and
// with the acknowledged (sequence, Nats-Msg-Id) pairs.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

type stored struct {
	Subject string
	Data    string
	MsgID   string
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// stepDown asks the stream leader to step down.
func stepDown(nc *nats.Conn, stream string) error {
	m, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 3*time.Second)
	if err != nil {
		return err
	}
	var r struct {
		Success bool      `json:"success"`
		Error   *apiError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return err
	}
	if r.Error != nil {
		return fmt.Errorf("stepdown: %d %s", r.Error.ErrCode, r.Error.Description)
	}
	if !r.Success {
		return fmt.Errorf("stepdown: no success in %s", m.Data)
	}
	return nil
}

// readSeqs reads the given sequences through js (STREAM.MSG.GET, answered
// by the stream leader), `workers` at a time. Sequences that are not found
// are returned in notFound; other errors (after retries) in errs.
func readSeqs(js nats.JetStreamContext, stream string, seqs []uint64, workers int) (map[uint64]stored, []uint64, []error) {
	out := make(map[uint64]stored, len(seqs))
	var notFound []uint64
	var errs []error
	var mu sync.Mutex
	ch := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range ch {
				var m *nats.RawStreamMsg
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					if m, err = js.GetMsg(stream, seq, nats.MaxWait(3*time.Second)); err == nil || errors.Is(err, nats.ErrMsgNotFound) {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				switch {
				case err == nil:
					out[seq] = stored{Subject: m.Subject, Data: string(m.Data), MsgID: m.Header.Get(nats.MsgIdHdr)}
				case errors.Is(err, nats.ErrMsgNotFound):
					notFound = append(notFound, seq)
				default:
					errs = append(errs, fmt.Errorf("seq %d: %w", seq, err))
				}
				mu.Unlock()
			}
		}()
	}
	for _, s := range seqs {
		ch <- s
	}
	close(ch)
	wg.Wait()
	sort.Slice(notFound, func(i, j int) bool { return notFound[i] < notFound[j] })
	return out, notFound, errs
}

// replicaRead is one node's contents, read while it led the stream.
type replicaRead struct {
	Node     string
	Msgs     map[uint64]stored
	NotFound []uint64
	Errs     []error
	Info     string // its STREAM.INFO state when read
}

// readEveryLeader steps the leader down until every node has led once
// (bounded: 40 stepdowns), reading all of [first, last] on each.
func readEveryLeader(c *Cluster, nc *nats.Conn, js nats.JetStreamContext, stream string, first, last, msgs uint64, workers int) ([]replicaRead, error) {
	var seqs []uint64
	for s := first; s <= last && last > 0; s++ {
		seqs = append(seqs, s)
	}
	var reads []replicaRead
	seen := map[string]bool{}
	stepdowns := 0
	var order []string
	defer func() {
		fmt.Printf("  %d stepdowns to have every node lead once; leaders in turn: %s\n", stepdowns, strings.Join(order, " "))
	}()
	for round := 0; round < 40 && len(seen) < len(c.Nodes); round++ {
		l, err := leaderOf(js, stream, 30*time.Second)
		if err != nil {
			return reads, fmt.Errorf("no leader: %v", err)
		}
		order = append(order, l)
		if !seen[l] {
			seen[l] = true
			// the new leader reports the final state before it is read (bounded)
			var info string
			waitFor(30*time.Second, func() error {
				si, err := js.StreamInfo(stream, nats.MaxWait(2*time.Second))
				if err != nil {
					return err
				}
				if si.Cluster == nil {
					return fmt.Errorf("no cluster info")
				}
				info = fmt.Sprintf("leader %s: messages %d, first %d, last %d", si.Cluster.Leader, si.State.Msgs, si.State.FirstSeq, si.State.LastSeq)
				if si.Cluster.Leader != l {
					return fmt.Errorf("leader moved: %s", info)
				}
				if si.State.Msgs != msgs || si.State.FirstSeq != first || si.State.LastSeq != last {
					return fmt.Errorf("state differs: %s", info)
				}
				return nil
			})
			start := time.Now()
			got, nf, errs := readSeqs(js, stream, seqs, workers)
			fmt.Printf("  read %d sequences while %s led (%s) in %v: %d found, %d not found, %d errors\n",
				len(seqs), l, info, time.Since(start).Round(time.Millisecond), len(got), len(nf), len(errs))
			// the leader must not have moved during the read
			if l2, err := leaderOf(js, stream, 10*time.Second); err == nil && l2 != l {
				fmt.Printf("  note: the leader moved from %s to %s during the read: read %s again\n", l, l2, l)
				delete(seen, l)
			} else {
				reads = append(reads, replicaRead{Node: l, Msgs: got, NotFound: nf, Errs: errs, Info: info})
			}
			if len(seen) == len(c.Nodes) {
				break
			}
		}
		// A stepdown right after an election may only have the previous leader
		// to choose from (the new leader has not heard from the third node
		// yet): after 6 rounds, let the group settle for a second first.
		if round >= 6 {
			time.Sleep(time.Second)
		}
		stepdowns++
		if err := waitFor(10*time.Second, func() error { return stepDown(nc, stream) }); err != nil {
			return reads, fmt.Errorf("stepdown of %s: %v", l, err)
		}
		waitFor(20*time.Second, func() error {
			si, err := js.StreamInfo(stream, nats.MaxWait(2*time.Second))
			if err != nil {
				return err
			}
			if si.Cluster == nil || si.Cluster.Leader == "" || si.Cluster.Leader == l {
				return fmt.Errorf("leader still %v", si.Cluster)
			}
			return nil
		})
	}
	if len(reads) < len(c.Nodes) {
		var names []string
		for _, r := range reads {
			names = append(names, r.Node)
		}
		return reads, fmt.Errorf("only %s were read as leader after %d stepdowns", strings.Join(names, ","), stepdowns)
	}
	return reads, nil
}

// VerifyResult is what the replica check found.
type VerifyResult struct {
	Acked          int // distinct acknowledged ids
	StreamMsgs     uint64
	First, Last    uint64
	ReplicasRead   int
	Identical      bool
	Divergent      []uint64            // sequences where the replicas differ
	MissingAny     int                 // acknowledged sequences missing (or holding another id) on at least one replica
	MissingAcked   map[string][]uint64 // node -> acknowledged sequences absent or holding another id
	StoredTwice    map[string]int      // node -> ids stored at more than one sequence
	BadPayload     map[string]int      // node -> payload not the one published with that id
	NotAcked       int                 // ids stored that were never acknowledged (in the first read)
	AckConflicts   []string            // an id acknowledged at two sequences, or a sequence for two ids
	ReadErrors     int
	Problems       []string
	StreamInfoNote string
}

func (v *VerifyResult) OK() bool {
	if !v.Identical || len(v.Divergent) > 0 || len(v.AckConflicts) > 0 || v.ReadErrors > 0 || len(v.Problems) > 0 {
		return false
	}
	for _, m := range v.MissingAcked {
		if len(m) > 0 {
			return false
		}
	}
	for _, n := range v.StoredTwice {
		if n > 0 {
			return false
		}
	}
	for _, n := range v.BadPayload {
		if n > 0 {
			return false
		}
	}
	return v.StreamMsgs == uint64(v.Acked)
}

func firstN(s []uint64, n int) string {
	var b []string
	for i, x := range s {
		if i == n {
			b = append(b, fmt.Sprintf("... (%d in all)", len(s)))
			break
		}
		b = append(b, fmt.Sprint(x))
	}
	return strings.Join(b, " ")
}

// verify checks the stream against the acks; when(a) tells when an ack
// arrived (for the messages it prints).
func verify(c *Cluster, nc *nats.Conn, js nats.JetStreamContext, stream string, acks []ack, workers int, healthyTimeout time.Duration, when func(a ack) string) *VerifyResult {
	v := &VerifyResult{MissingAcked: map[string][]uint64{}, StoredTwice: map[string]int{}, BadPayload: map[string]int{}, Identical: true}
	bySeq := map[uint64]string{}
	byID := map[string]uint64{}
	ackOf := map[string]ack{}
	for _, a := range acks {
		if s, ok := byID[a.id]; ok && s != a.seq {
			v.AckConflicts = append(v.AckConflicts, fmt.Sprintf("%s acknowledged at seq %d (%s) and at seq %d (%s)", a.id, s, when(ackOf[a.id]), a.seq, when(a)))
		}
		if id, ok := bySeq[a.seq]; ok && id != a.id {
			v.AckConflicts = append(v.AckConflicts, fmt.Sprintf("seq %d acknowledged for %s (%s) and for %s (%s)", a.seq, id, when(ackOf[id]), a.id, when(a)))
		}
		if _, ok := byID[a.id]; !ok {
			ackOf[a.id] = a
		}
		byID[a.id] = a.seq
		bySeq[a.seq] = a.id
	}
	v.Acked = len(byID)
	si, err := waitStreamHealthy(js, stream, uint64(len(byID)), healthyTimeout)
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("stream not healthy with >= %d messages within %v: %v", len(byID), healthyTimeout, err))
		if si == nil {
			if si, err = js.StreamInfo(stream, nats.MaxWait(3*time.Second)); err != nil {
				v.Problems = append(v.Problems, "no stream info: "+err.Error())
				return v
			}
		}
	}
	v.StreamMsgs, v.First, v.Last = si.State.Msgs, si.State.FirstSeq, si.State.LastSeq
	if si.State.Msgs != uint64(len(byID)) {
		v.Problems = append(v.Problems, fmt.Sprintf("stream holds %d messages, %d distinct ids were acknowledged", si.State.Msgs, len(byID)))
	}
	reads, err := readEveryLeader(c, nc, js, stream, si.State.FirstSeq, si.State.LastSeq, si.State.Msgs, workers)
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
	}
	v.ReplicasRead = len(reads)
	if len(reads) == 0 {
		v.Identical = false
		return v
	}
	for _, r := range reads {
		v.ReadErrors += len(r.Errs)
		for i, e := range r.Errs {
			if i == 5 {
				break
			}
			fmt.Printf("  %s: read error %v\n", r.Node, e)
		}
		if len(r.NotFound) > 0 {
			fmt.Printf("  %s: sequences not found: %s\n", r.Node, firstN(r.NotFound, 20))
		}
		seen := map[string]uint64{}
		for seq, m := range r.Msgs {
			if m.Data != payload(m.MsgID, len(m.Data)) {
				v.BadPayload[r.Node]++
			}
			if _, dup := seen[m.MsgID]; dup {
				v.StoredTwice[r.Node]++
			}
			seen[m.MsgID] = seq
		}
		var missing []uint64
		for seq, id := range bySeq {
			if m, ok := r.Msgs[seq]; !ok || m.MsgID != id {
				missing = append(missing, seq)
			}
		}
		sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
		v.MissingAcked[r.Node] = missing
		if len(missing) > 0 {
			fmt.Printf("  %s: %d acknowledged sequences missing or holding another id: %s\n", r.Node, len(missing), firstN(missing, 20))
			// when were they acknowledged: count by phase
			byPhase := map[string]int{}
			var order []string
			for _, seq := range missing {
				ph := when(ackOf[bySeq[seq]])
				if i := strings.Index(ph, "during "); i >= 0 {
					ph = ph[i:]
				}
				if byPhase[ph] == 0 {
					order = append(order, ph)
				}
				byPhase[ph]++
			}
			for _, ph := range order {
				fmt.Printf("    %d of them acknowledged %s\n", byPhase[ph], ph)
			}
			for i, seq := range missing {
				if i == 3 {
					break
				}
				m, ok := r.Msgs[seq]
				fmt.Printf("    seq %d acknowledged for %s (%s); %s holds: present=%v id %q\n", seq, bySeq[seq], when(ackOf[bySeq[seq]]), r.Node, ok, m.MsgID)
			}
		}
	}
	anyMissing := map[uint64]bool{}
	for _, m := range v.MissingAcked {
		for _, s := range m {
			anyMissing[s] = true
		}
	}
	v.MissingAny = len(anyMissing)
	for _, m := range reads[0].Msgs {
		if _, ok := byID[m.MsgID]; !ok {
			v.NotAcked++
		}
	}
	// identical at every sequence of [first, last], present or absent alike
	for s := si.State.FirstSeq; s <= si.State.LastSeq && si.State.LastSeq > 0; s++ {
		m0, ok0 := reads[0].Msgs[s]
		for _, r := range reads[1:] {
			if m, ok := r.Msgs[s]; ok != ok0 || m != m0 {
				v.Divergent = append(v.Divergent, s)
				break
			}
		}
	}
	if len(v.Divergent) > 0 {
		v.Identical = false
		fmt.Printf("  replicas differ at %d sequences: %s\n", len(v.Divergent), firstN(v.Divergent, 20))
		for i, s := range v.Divergent {
			if i == 10 {
				break
			}
			for _, r := range reads {
				m, ok := r.Msgs[s]
				fmt.Printf("    seq %d on %s: present=%v %+v\n", s, r.Node, ok, m)
			}
		}
	}
	if len(reads) < len(c.Nodes) {
		v.Identical = false
	}
	return v
}
