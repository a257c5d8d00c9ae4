package main

// KV checker (issue 12): after the heal, with every replica of KV_CHAOSKV
// current, each replica is read on its own (readStreamReplica, as the CHAOS
// checker does) and the compare-and-set history of workload_kv.go is checked:
//
//  1. at most one acknowledged winner per (key, revision read)
//     (double_winners);
//  2. every acknowledged update is on every replica at its revision with its
//     value (lost_acked, lost_on_node), unless its key's history is full
//     (max_msgs_per_subject reached) and it is older than the oldest kept
//     revision (aged_out; by default nothing ages out);
//  3. each key's stored chain is linear: every stored value was based on the
//     revision of the value stored before it for that key (the first on
//     revision 0 unless older ones aged out) (chain_breaks: two writes based
//     on the same revision both stored = a lost update), and the value the
//     client read there is the one stored there (read_mismatch: also a read
//     of a revision that is stored nowhere, i.e. of a write that was later
//     lost); a definite conflict is never stored (conflict_stored); no value
//     is stored twice (stored_twice), none that no client attempted
//     (unexpected);
//  4. replicas identical at every sequence (divergent_seqs), every sequence
//     answered (unread).
//
// Any of these counts above 0 is a violation and fails the run.

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

type KVResult struct {
	Bucket        string         `json:"bucket"`
	Clients       int            `json:"clients"`
	Keys          int            `json:"keys"`
	MaxPerKey     int64          `json:"max_msgs_per_subject"`
	Attempts      int            `json:"attempts"`
	AckedWins     int            `json:"acked_wins"`
	Conflicts     int            `json:"definite_conflicts"`
	Unknown       int            `json:"unknown"`
	UnknownStored int            `json:"unknown_stored"`
	GetErrors     int64          `json:"get_errors"`
	ErrorKinds    map[string]int `json:"error_kinds,omitempty"`
	FirstSeq      uint64         `json:"first_seq"`
	LastSeq       uint64         `json:"last_seq"`
	Stored        int            `json:"stored"`
	ChainLen      map[string]int `json:"chain_len"`
	AgedOut       int            `json:"aged_out"`
	ReplicaMsgs   map[string]int `json:"replica_msgs"`
	Leaders       []string       `json:"leaders"`   // the bucket's leader, each time it changed
	Stepdowns     int            `json:"stepdowns"` // sent by --kv-follow-leader
	// violations
	DoubleWinners  int            `json:"double_winners"`
	LostAcked      int            `json:"lost_acked"`
	LostOnNode     map[string]int `json:"lost_on_node"`
	ChainBreaks    int            `json:"chain_breaks"`
	ReadMismatch   int            `json:"read_mismatch"`
	ConflictStored int            `json:"conflict_stored"`
	StoredTwice    int            `json:"stored_twice"`
	Unexpected     int            `json:"unexpected"`
	Divergent      int            `json:"divergent_seqs"`
	Unread         int            `json:"unread"`
	Violations     int            `json:"violations"`
	Examples       []string       `json:"violation_examples,omitempty"`
	Problems       []string       `json:"problems,omitempty"`
}

func (k *KVResult) violation(counter *int, format string, a ...interface{}) {
	*counter++
	k.Violations++
	addEx(&k.Examples, fmt.Sprintf(format, a...))
}

// checkKV: the checks above on the attempts and the replicas' reads (the
// leader's first) of seqs [first, last+extra]; limit = max_msgs_per_subject.
func checkKV(atts []*kvAttempt, reads []*replicaRead, first, last, extra uint64, limit int64) *KVResult {
	k := &KVResult{Bucket: kvBucket, MaxPerKey: limit, FirstSeq: first, LastSeq: last, ChainLen: map[string]int{},
		ReplicaMsgs: map[string]int{}, LostOnNode: map[string]int{}}
	byID := map[string]*kvAttempt{}
	keys := map[string]bool{}
	for _, a := range atts {
		byID[a.ID] = a
		keys[a.Key] = true
		if a.Client < 0 {
			continue // the harness's initial values
		}
		k.Attempts++
		switch a.Outcome {
		case kvOK:
			k.AckedWins++
		case kvConflict:
			k.Conflicts++
		default:
			k.Unknown++
		}
	}
	k.Keys = len(keys)
	if len(reads) == 0 {
		k.Problems = append(k.Problems, "no replica read")
		k.Violations++
		return k
	}
	for _, rd := range reads {
		k.ReplicaMsgs[rd.Node] = len(rd.Msgs)
	}
	leader := reads[0]
	k.Stored = len(leader.Msgs)
	// per key: stored seqs (leader's read), in order
	chain := map[string][]uint64{}
	for s, m := range leader.Msgs {
		if strings.HasPrefix(m.Subject, kvSubjPrefix) {
			key := m.Subject[len(kvSubjPrefix):]
			chain[key] = append(chain[key], s)
		}
	}
	for key := range chain {
		sort.Slice(chain[key], func(i, j int) bool { return chain[key][i] < chain[key][j] })
		k.ChainLen[key] = len(chain[key])
	}
	// absent: rev is not on rd (404, or below the stream's first seq: not read)
	absent := func(rd *replicaRead, rev uint64) bool { return rd.NotFound[rev] || rev < first }
	// aged: rev of key may have been dropped by max_msgs_per_subject
	aged := func(key string, rev uint64) bool {
		c := chain[key]
		return limit > 0 && int64(len(c)) >= limit && len(c) > 0 && rev < c[0]
	}

	// 1. at most one acknowledged winner per (key, revision read)
	winners := map[string][]string{}
	var wkeys []string
	for _, a := range atts {
		if a.Outcome == kvOK {
			wk := fmt.Sprintf("%s@%d", a.Key, a.Prev)
			if len(winners[wk]) == 0 {
				wkeys = append(wkeys, wk)
			}
			winners[wk] = append(winners[wk], fmt.Sprintf("%s->rev %d", a.ID, a.Rev))
		}
	}
	sort.Strings(wkeys)
	for _, wk := range wkeys {
		if w := winners[wk]; len(w) > 1 {
			k.violation(&k.DoubleWinners, "%d acknowledged winners based on %s: %s", len(w), wk, strings.Join(w, ", "))
		}
	}

	// 2. every acknowledged update on every replica
	sorted := append([]*kvAttempt(nil), atts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	for _, a := range sorted {
		if a.Outcome != kvOK {
			continue
		}
		lostHere := false
		for i, rd := range reads {
			m, ok := rd.Msgs[a.Rev]
			if ok && m.Subject == kvSubjPrefix+a.Key && m.Data == a.Val {
				continue
			}
			if !ok && absent(rd, a.Rev) && aged(a.Key, a.Rev) {
				if i == 0 {
					k.AgedOut++
				}
				continue
			}
			desc := "absent"
			if ok {
				desc = fmt.Sprintf("holds %q: %q", m.Subject, m.Data)
			} else if !absent(rd, a.Rev) {
				desc = "unread"
			}
			k.LostOnNode[rd.Node]++
			if !lostHere {
				lostHere = true
				k.violation(&k.LostAcked, "acknowledged %s (key %s, based on rev %d) at rev %d: %s %s", a.ID, a.Key, a.Prev, a.Rev, rd.Node, desc)
			}
		}
	}

	// 3. linear chains, reads that match the store, nothing stored wrongly
	var ckeys []string
	for key := range chain {
		ckeys = append(ckeys, key)
	}
	sort.Strings(ckeys)
	storedAt := map[string][]uint64{}
	for _, key := range ckeys {
		c := chain[key]
		for i, s := range c {
			m := leader.Msgs[s]
			a := byID[kvIDOf(m.Data)]
			if a == nil || a.Key != key || a.Val != m.Data {
				continue // unexpected: counted below, on every replica
			}
			storedAt[a.ID] = append(storedAt[a.ID], s)
			if a.Outcome == kvConflict {
				k.violation(&k.ConflictStored, "%s stored at rev %d although its update was refused (%s)", a.ID, s, a.Err)
			}
			if a.Outcome == kvUnknown && a.Client >= 0 {
				k.UnknownStored++
			}
			if i == 0 {
				if a.Prev != 0 && !aged(key, a.Prev) {
					k.violation(&k.ChainBreaks, "key %s: first stored value %s (rev %d) was based on rev %d, which is not stored before it", key, a.ID, s, a.Prev)
				}
				continue
			}
			prev := c[i-1]
			if a.Prev != prev {
				k.violation(&k.ChainBreaks, "key %s: %s stored at rev %d was based on rev %d, but the value before it is rev %d (%s): a lost update",
					key, a.ID, s, a.Prev, prev, kvIDOf(leader.Msgs[prev].Data))
			}
		}
	}
	for id, ss := range storedAt {
		if len(ss) > 1 {
			k.violation(&k.StoredTwice, "%s stored at revs %v", id, ss)
		}
	}
	// every attempt's read: the value read at rev Prev is the one stored there
	for _, a := range sorted {
		if a.Prev == 0 || a.Client < 0 {
			continue
		}
		m, ok := leader.Msgs[a.Prev]
		switch {
		case ok && m.Subject == kvSubjPrefix+a.Key && kvIDOf(m.Data) == a.PrevID:
		case !ok && absent(leader, a.Prev) && aged(a.Key, a.Prev):
		case ok:
			k.violation(&k.ReadMismatch, "%s read key %s at rev %d as %s, the store holds %q: %q there", a.ID, a.Key, a.Prev, a.PrevID, m.Subject, m.Data)
		default:
			k.violation(&k.ReadMismatch, "%s read key %s at rev %d as %s, rev %d is not stored (a read of a lost write)", a.ID, a.Key, a.Prev, a.PrevID, a.Prev)
		}
	}
	for _, rd := range reads {
		var ss []uint64
		for s := range rd.Msgs {
			ss = append(ss, s)
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i] < ss[j] })
		for _, s := range ss {
			m := rd.Msgs[s]
			a := byID[kvIDOf(m.Data)]
			if a == nil || a.Val != m.Data || m.Subject != kvSubjPrefix+a.Key {
				k.violation(&k.Unexpected, "%s rev %d: %q: %q was never attempted", rd.Node, s, m.Subject, m.Data)
			}
		}
	}

	// 4. identical replicas
	for s := first; s <= last+extra; s++ {
		if s == 0 {
			continue
		}
		var parts []string
		var ref *stored
		refSet, diverge := false, false
		for _, rd := range reads {
			m, ok := rd.Msgs[s]
			if !ok && !rd.NotFound[s] {
				parts = append(parts, rd.Node+":unread")
				if s <= last {
					k.Unread++
					k.Violations++
				}
				continue
			}
			if ok {
				parts = append(parts, fmt.Sprintf("%s:%s", rd.Node, kvIDOf(m.Data)))
			} else {
				parts = append(parts, rd.Node+":404")
			}
			if !refSet {
				refSet = true
				if ok {
					mm := m
					ref = &mm
				}
				continue
			}
			if (ref == nil) != !ok || (ref != nil && (ref.Subject != m.Subject || ref.Data != m.Data)) {
				diverge = true
			}
		}
		if diverge {
			k.violation(&k.Divergent, "rev %d: %s", s, strings.Join(parts, " "))
		}
	}
	return k
}

// checkKVRun: wait for KV_CHAOSKV to be current everywhere, read every
// replica on its own, check, and put the figures into res.
func (r *Run) checkKVRun(res *Result, fail func(string, ...interface{})) {
	w := r.kv
	if w == nil {
		return
	}
	atts := w.snapshot()
	var maxRev uint64
	for _, a := range atts {
		if a.Outcome == kvOK && a.Rev > maxRev {
			maxRev = a.Rev
		}
	}
	si, err := r.kvWaitHealthy(120*time.Second, maxRev)
	if err != nil {
		fail("KV: %s not healthy 120s after healing: %v", kvStream, err)
	}
	if si == nil || si.Cluster == nil || si.Cluster.Leader == "" {
		fail("KV: no leader of %s to check against", kvStream)
		return
	}
	names := []string{si.Cluster.Leader}
	for _, p := range si.Cluster.Replicas {
		names = append(names, p.Name)
	}
	sort.Strings(names[1:])
	r.logf("KV checking: %s leader %s, seqs %d..%d, %d msgs, max_msgs_per_subject %d", kvStream, si.Cluster.Leader,
		si.State.FirstSeq, si.State.LastSeq, si.State.Msgs, si.Config.MaxMsgsPerSubject)
	const extra = 5
	reads := make([]*replicaRead, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func(i int, name string) {
			defer wg.Done()
			reads[i] = readStreamReplica(kvStream, name, r.c.ByName(name).URL(), si.State.FirstSeq, si.State.LastSeq, extra, r.readBudget)
		}(i, name)
	}
	wg.Wait()
	k := checkKV(atts, reads, si.State.FirstSeq, si.State.LastSeq, extra, si.Config.MaxMsgsPerSubject)
	k.Clients = w.clients
	k.GetErrors = w.getErrs
	w.mu.Lock()
	k.Leaders = append([]string(nil), w.leaders...)
	k.Stepdowns = w.stepdown
	k.ErrorKinds = map[string]int{}
	for e, n := range w.errKinds {
		k.ErrorKinds[e] = n
	}
	w.mu.Unlock()
	for _, rd := range reads {
		if rd.Err != "" {
			k.Problems = append(k.Problems, fmt.Sprintf("reading %s on %s: %s", kvStream, rd.Node, rd.Err))
		}
		if !rd.CaughtUp && si.State.LastSeq > 0 {
			r.logf("KV note: %s did not serve seq %d within 30s", rd.Node, si.State.LastSeq)
		}
	}
	res.KV = k
	for _, p := range k.Problems {
		fail("KV: %s", p)
	}
	if k.Violations > 0 {
		fail("KV: %d violations (double winners %d, lost acked %d, chain breaks %d, read mismatches %d, conflicts stored %d, stored twice %d, unexpected %d, divergent %d, unread %d): %v",
			k.Violations, k.DoubleWinners, k.LostAcked, k.ChainBreaks, k.ReadMismatch, k.ConflictStored, k.StoredTwice, k.Unexpected, k.Divergent, k.Unread, k.Examples)
	}
}

func printKV(r *Result) {
	k := r.KV
	if k == nil {
		return
	}
	fmt.Printf("   KV %s (%d clients, %d keys): %d CAS attempts, %d acked wins, %d definite conflicts, %d unknown (%d of them stored), %d get errors; stored %d revs (chains %v), %d aged out; leaders %v (%d stepdowns); violations %d (double winners %d, lost acked %d, chain breaks %d, read mismatches %d, conflicts stored %d, stored twice %d, unexpected %d, divergent %d, unread %d)\n",
		k.Bucket, k.Clients, k.Keys, k.Attempts, k.AckedWins, k.Conflicts, k.Unknown, k.UnknownStored, k.GetErrors, k.Stored, k.ChainLen, k.AgedOut, k.Leaders, k.Stepdowns,
		k.Violations, k.DoubleWinners, k.LostAcked, k.ChainBreaks, k.ReadMismatch, k.ConflictStored, k.StoredTwice, k.Unexpected, k.Divergent, k.Unread)
}
