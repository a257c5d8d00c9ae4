package main

import (
	"testing"
)

// fabricated KV histories: the checker must report each violation.

func kvAtt(id string, client int, key string, prev uint64, prevID, outcome string, rev uint64) *kvAttempt {
	a := &kvAttempt{ID: id, Client: client, Key: key, Prev: prev, PrevID: prevID, Outcome: outcome, Rev: rev}
	a.Val = kvValue(a)
	return a
}

// replicas: three identical reads holding msgs (seq -> attempt) and 404 for
// every other seq up to last+extra.
func kvReads(msgs map[uint64]*kvAttempt, last, extra uint64) []*replicaRead {
	var out []*replicaRead
	for _, n := range []string{"n1", "n2", "n3"} {
		rd := &replicaRead{Node: n, Msgs: map[uint64]stored{}, NotFound: map[uint64]bool{}, CaughtUp: true}
		for s := uint64(1); s <= last+extra; s++ {
			if a, ok := msgs[s]; ok {
				rd.Msgs[s] = stored{Subject: kvSubjPrefix + a.Key, Data: a.Val}
			} else {
				rd.NotFound[s] = true
			}
		}
		out = append(out, rd)
	}
	return out
}

func TestCheckKVClean(t *testing.T) {
	init0 := kvAtt("init-k0", -1, "k0", 0, "-", kvOK, 1)
	a := kvAtt("c0-000000", 0, "k0", 1, "init-k0", kvOK, 2)
	b := kvAtt("c1-000000", 1, "k0", 1, "init-k0", kvConflict, 0)
	c := kvAtt("c2-000000", 2, "k0", 2, "c0-000000", kvUnknown, 0) // timed out, stored at 3
	d := kvAtt("c1-000001", 1, "k0", 3, "c2-000000", kvOK, 4)
	e := kvAtt("c0-000001", 0, "k0", 4, "c1-000001", kvUnknown, 0) // timed out, not stored
	atts := []*kvAttempt{init0, a, b, c, d, e}
	k := checkKV(atts, kvReads(map[uint64]*kvAttempt{1: init0, 2: a, 3: c, 4: d}, 4, 5), 1, 4, 5, kvUnlimitedHistory)
	if k.Violations != 0 {
		t.Fatalf("clean history: %d violations: %v", k.Violations, k.Examples)
	}
	if k.Attempts != 5 || k.AckedWins != 2 || k.Conflicts != 1 || k.Unknown != 2 || k.UnknownStored != 1 {
		t.Fatalf("figures: %+v", k)
	}
}

func TestCheckKVTwoAckedWinners(t *testing.T) {
	init0 := kvAtt("init-k0", -1, "k0", 0, "-", kvOK, 1)
	a := kvAtt("c0-000000", 0, "k0", 1, "init-k0", kvOK, 2)
	b := kvAtt("c1-000000", 1, "k0", 1, "init-k0", kvOK, 3) // also based on rev 1, also acked
	atts := []*kvAttempt{init0, a, b}
	k := checkKV(atts, kvReads(map[uint64]*kvAttempt{1: init0, 2: a, 3: b}, 3, 5), 1, 3, 5, kvUnlimitedHistory)
	if k.DoubleWinners != 1 {
		t.Fatalf("double winners %d, want 1: %v", k.DoubleWinners, k.Examples)
	}
	if k.ChainBreaks != 1 {
		t.Fatalf("chain breaks %d, want 1 (lost update): %v", k.ChainBreaks, k.Examples)
	}
	if k.Violations == 0 {
		t.Fatalf("no violation reported")
	}
	t.Logf("reported: %v", k.Examples)
}

func TestCheckKVAckedUpdateMissing(t *testing.T) {
	init0 := kvAtt("init-k0", -1, "k0", 0, "-", kvOK, 1)
	a := kvAtt("c0-000000", 0, "k0", 1, "init-k0", kvOK, 2) // acked, then lost
	b := kvAtt("c1-000000", 1, "k0", 1, "init-k0", kvUnknown, 0)
	atts := []*kvAttempt{init0, a, b}
	// rev 2 holds b instead (the leader that acked a lost it; b was written on rev 1 again)
	k := checkKV(atts, kvReads(map[uint64]*kvAttempt{1: init0, 2: b}, 2, 5), 1, 2, 5, kvUnlimitedHistory)
	if k.LostAcked != 1 || k.LostOnNode["n1"] != 1 || k.LostOnNode["n3"] != 1 {
		t.Fatalf("lost acked %d (%v), want 1 on every node: %v", k.LostAcked, k.LostOnNode, k.Examples)
	}
	// and simply absent
	k = checkKV(atts[:2], kvReads(map[uint64]*kvAttempt{1: init0}, 1, 5), 1, 1, 5, kvUnlimitedHistory)
	if k.LostAcked != 1 || k.Violations == 0 {
		t.Fatalf("absent: lost acked %d, violations %d: %v", k.LostAcked, k.Violations, k.Examples)
	}
	t.Logf("reported: %v", k.Examples)
}

func TestCheckKVOtherViolations(t *testing.T) {
	init0 := kvAtt("init-k0", -1, "k0", 0, "-", kvOK, 1)
	a := kvAtt("c0-000000", 0, "k0", 1, "init-k0", kvConflict, 0) // refused, yet stored
	b := kvAtt("c1-000000", 1, "k0", 2, "bogus", kvUnknown, 0)    // read rev 2 with another value
	atts := []*kvAttempt{init0, a, b}
	reads := kvReads(map[uint64]*kvAttempt{1: init0, 2: a}, 2, 5)
	reads[2].Msgs[3] = stored{Subject: kvSubjPrefix + "k0", Data: "x never attempted"} // on n3 only
	delete(reads[2].NotFound, 3)
	k := checkKV(atts, reads, 1, 2, 5, kvUnlimitedHistory)
	if k.ConflictStored != 1 || k.ReadMismatch != 1 || k.Unexpected != 1 || k.Divergent != 1 {
		t.Fatalf("conflict stored %d, read mismatch %d, unexpected %d, divergent %d: %v",
			k.ConflictStored, k.ReadMismatch, k.Unexpected, k.Divergent, k.Examples)
	}
}

// With a history limit, revisions older than the kept ones are aged out,
// not lost.
func TestCheckKVAgedOut(t *testing.T) {
	init0 := kvAtt("init-k0", -1, "k0", 0, "-", kvOK, 1)
	a := kvAtt("c0-000000", 0, "k0", 1, "init-k0", kvOK, 2)
	b := kvAtt("c0-000001", 0, "k0", 2, "c0-000000", kvOK, 3)
	atts := []*kvAttempt{init0, a, b}
	k := checkKV(atts, kvReads(map[uint64]*kvAttempt{2: a, 3: b}, 3, 5), 2, 3, 5, 2)
	if k.Violations != 0 || k.AgedOut != 1 {
		t.Fatalf("aged: violations %d, aged out %d: %v", k.Violations, k.AgedOut, k.Examples)
	}
	// below the stream's first seq, the reader does not ask (neither read nor 404)
	reads := kvReads(map[uint64]*kvAttempt{2: a, 3: b}, 3, 5)
	for _, rd := range reads {
		delete(rd.NotFound, 1)
	}
	k = checkKV(atts, reads, 2, 3, 5, 2)
	if k.Violations != 0 || k.AgedOut != 1 {
		t.Fatalf("aged, unread below first: violations %d, aged out %d: %v", k.Violations, k.AgedOut, k.Examples)
	}
	// not full: the same absence is a loss
	k = checkKV(atts, reads, 2, 3, 5, 3)
	if k.LostAcked != 1 || k.ChainBreaks != 1 {
		t.Fatalf("history not full: lost acked %d, chain breaks %d: %v", k.LostAcked, k.ChainBreaks, k.Examples)
	}
}
