package main

// Disk faults (issue 12): simulated power loss and damage to one node's data
// files while it is down.
//
//   powerloss-one  SIGKILL one replica (seeded pick, the leader included) and
//                  cut its files back to what it had synced (needs a power-loss
//                  test build, --powerloss: //server:herald_powerloss)
//   powerloss-all  the same for every node at once (coordinated power loss)
//   truncate       SIGKILL one replica (a minority), cut a Zipf-ish number of
//                  bytes (1 B .. 1 MiB, small cuts most likely) off the end of
//                  one of its RocksDB files (a WAL *.log or an *.sst), restart
//   bitflip        SIGKILL one replica, flip 1-4 bits of one of its *.log,
//                  *.sst or MANIFEST-* files, restart
//   delete-file    SIGKILL one replica, delete one of its *.log or *.sst, restart
//
// After a damage fault the node's log is searched for what Herald noticed:
// "refused-start" (it exited at start: the harness then restores the file it
// damaged, from a copy taken before, and starts it again, so the run goes on),
// "repair" (Raft log store recovery found a damaged log: the node neither
// votes nor leads until re-replicated, "log damaged from index"), or "none"
// (nothing reported: the damage was not seen, or hit nothing that mattered).
// The per-replica reads of the checker then show whether the damaged node
// serves damaged or missing data (lost_on_node, divergent).
//
// The power-loss replay below applies the same rules as
// storage/powerloss_fs.{h,cc} (ApplyPowerLoss); keep the two in step.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

var diskClasses = []string{"powerloss-one", "powerloss-all", "truncate", "bitflip", "delete-file"}

var powerlossFlag = flag.Bool("powerloss", false,
	"--server-bin is a power-loss test build (//server:herald_powerloss): each node journals its syncs to <node dir>/powerloss.journal (HERALD_POWERLOSS_JOURNAL); needed by powerloss-one and powerloss-all")

func isDiskClass(c string) bool {
	for _, d := range diskClasses {
		if d == c {
			return true
		}
	}
	return false
}

// nodeEnv: the environment of a node's process.
func nodeEnv(n *Node) []string {
	env := os.Environ()
	if *powerlossFlag {
		env = append(env, "HERALD_POWERLOSS_JOURNAL="+journalPath(n))
		env = append(env, "HERALD_NET_FAULTS="+netFaultsPath(n)) // nemesis_net.go
	}
	return env
}

func journalPath(n *Node) string { return filepath.Join(n.Dir, "powerloss.journal") }

// storeDir: the node's RocksDB directory (JetStream store_dir + "/herald").
func storeDir(n *Node) string { return filepath.Join(n.Dir, "js", "herald") }

// DiskEvent: what one disk fault did, and what Herald made of it.
type DiskEvent struct {
	Node   string   `json:"node"`
	File   string   `json:"file,omitempty"`
	Action string   `json:"action"`
	Cut    []string `json:"cut,omitempty"` // power loss: files cut or removed
	// Detected: refused-start, repair, none (see above); DetectedLog: the log lines.
	Detected    string   `json:"detected,omitempty"`
	DetectedLog []string `json:"detected_log,omitempty"`
}

// doDisk runs a disk fault step; false if s.Class is not one.
func (nm *Nemesis) doDisk(s Step, leader string, peers []string, ev *Event, heal *time.Time) bool {
	if !isDiskClass(s.Class) {
		return false
	}
	errf := func(err error) {
		if err != nil {
			ev.Errors = append(ev.Errors, err.Error())
		}
	}
	rng := rand.New(rand.NewSource(int64(s.Pick)))
	switch s.Class {
	case "powerloss-one":
		if !*powerlossFlag {
			ev.Skipped = "needs --powerloss (a power-loss test build)"
			return true
		}
		name := peers[s.Pick%len(peers)]
		node := nm.c.ByName(name)
		ev.Targets = []string{fmt.Sprintf("%s(pid %d)", name, node.PID())}
		at := time.Now()
		errf(node.Kill())
		cut, err := applyPowerLoss(journalPath(node))
		errf(err)
		node.mark(fmt.Sprintf("power loss: %d files cut or removed", len(cut)))
		ev.Disk = append(ev.Disk, DiskEvent{Node: name, Action: "power loss", Cut: cut})
		var gap <-chan float64
		if name == leader {
			gap = nm.probeAsync(at, 60*time.Second)
		}
		time.Sleep(s.Hold)
		*heal = time.Now()
		errf(node.Start())
		if gap != nil {
			ev.GapMs = <-gap
		}
	case "powerloss-all":
		if !*powerlossFlag {
			ev.Skipped = "needs --powerloss (a power-loss test build)"
			return true
		}
		nm.killAll(ev, errf)
		killed := time.Now()
		for _, node := range nm.c.Nodes {
			cut, err := applyPowerLoss(journalPath(node))
			errf(err)
			node.mark(fmt.Sprintf("power loss: %d files cut or removed", len(cut)))
			ev.Disk = append(ev.Disk, DiskEvent{Node: node.Name, Action: "power loss", Cut: cut})
		}
		time.Sleep(s.Hold)
		*heal = time.Now()
		errf(nm.c.StartAll())
		for _, a := range nm.w.h.acksStartedIn(killed, *heal) {
			ev.AckedWithoutQuorum = append(ev.AckedWithoutQuorum, fmt.Sprintf("%s seq %d while all nodes were down", a.ID, a.Seq))
		}
		ev.RecoverMs = <-nm.probeAsync(*heal, 120*time.Second)
	default: // truncate, bitflip, delete-file: one replica, while it is down
		name := peers[s.Pick%len(peers)]
		node := nm.c.ByName(name)
		ev.Targets = []string{fmt.Sprintf("%s(pid %d)", name, node.PID())}
		errf(node.Kill())
		de := DiskEvent{Node: name}
		backup, err := damage(s.Class, storeDir(node), filepath.Join(node.Dir, "damage-backup"), rng, &de)
		errf(err)
		node.mark("damage: " + de.Action)
		time.Sleep(s.Hold)
		*heal = time.Now()
		restarted := node.Log().Size()
		err = nm.startAndSettle(node)
		if err != nil {
			de.Detected = "refused-start"
			de.DetectedLog = damageLines(node, restarted)
			ev.Errors = append(ev.Errors, fmt.Sprintf("%s refused to start after %s: %v; file restored", name, de.Action, err))
			if backup != "" {
				errf(restore(backup, de.File))
			}
			errf(node.Start())
		} else if lines := damageLines(node, restarted); len(lines) > 0 {
			de.Detected, de.DetectedLog = "repair", lines
		} else {
			de.Detected = "none"
		}
		ev.Disk = append(ev.Disk, de)
	}
	for _, d := range ev.Disk {
		nm.logf("fault %d %s: %s: %s cut=%v detected=%s %s", ev.N, s.Class, d.Node, d.Action, d.Cut, d.Detected,
			strings.Join(d.DetectedLog, " | "))
	}
	return true
}

// startAndSettle starts the node and waits (≤20 s) until its log says its
// JetStream started ("JetStream started", logged once its store opened and
// recovered), or it exits (error: it refused to start). An API request would
// not do: a node whose JetStream failed still routes it to the others.
func (nm *Nemesis) startAndSettle(n *Node) error {
	offset := n.Log().Size()
	if err := n.spawn(); err != nil {
		return err
	}
	err := retry(20*time.Second, func() error {
		if !n.Running() {
			return nil
		}
		if n.Log().Contains(offset, "JetStream started") {
			return nil
		}
		return fmt.Errorf("%s: JetStream not started within 20s (log %s)", n.Name, n.LogPath)
	})
	if err == nil && !n.Running() {
		err = fmt.Errorf("%s exited at start (log %s)", n.Name, n.LogPath)
	}
	if err == nil {
		err = n.waitUp()
	}
	if err != nil {
		// Its exit is a detection here, not a crash.
		n.mu.Lock()
		n.expectExit = true
		if k := len(n.crashes); k > 0 && strings.Contains(n.crashes[k-1], n.Name+" exited unexpectedly") {
			n.crashes = n.crashes[:k-1]
		}
		n.mu.Unlock()
		n.Kill()
	}
	return err
}

type logFile struct{ path string }

func (n *Node) Log() logFile { return logFile{n.LogPath} }

func (l logFile) Contains(offset int64, what string) bool {
	f, err := os.Open(l.path)
	if err != nil {
		return false
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	b, _ := io.ReadAll(io.LimitReader(f, 16<<20))
	return strings.Contains(string(b), what)
}

func (l logFile) Size() int64 {
	if st, err := os.Stat(l.path); err == nil {
		return st.Size()
	}
	return 0
}

// damageLines: the node's log lines since offset that tell about damage.
func damageLines(n *Node, offset int64) []string {
	f, err := os.Open(n.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(out) < 20 {
		l := sc.Text()
		ll := strings.ToLower(l)
		if strings.Contains(ll, "damaged") || strings.Contains(ll, "corrupt") || strings.Contains(ll, "repair") ||
			strings.Contains(ll, "checksum") || strings.Contains(ll, "unrecoverable") || strings.Contains(ll, "data loss") ||
			strings.Contains(ll, "dataloss") {
			if len(l) > 400 {
				l = l[:400]
			}
			out = append(out, l)
		}
	}
	return out
}

// storeFiles: the files of dir whose names match one of the patterns, sorted.
func storeFiles(dir string, patterns ...string) []string {
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, e.Name()); ok && !e.IsDir() {
				if st, err := e.Info(); err == nil && st.Size() > 0 {
					out = append(out, filepath.Join(dir, e.Name()))
				}
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// damage applies a truncate/bitflip/delete-file fault to one file of dir,
// keeping a copy of it under backupDir first; returns the copy's path.
func damage(class, dir, backupDir string, rng *rand.Rand, de *DiskEvent) (string, error) {
	var files []string
	switch class {
	case "truncate", "delete-file":
		files = storeFiles(dir, "*.log", "*.sst")
	case "bitflip":
		files = storeFiles(dir, "*.log", "*.sst", "MANIFEST-*")
	}
	if len(files) == 0 {
		de.Action = class + ": no file to damage"
		return "", nil
	}
	// WALs are where the newest (and so most often still needed) data is:
	// pick one half of the time when there is one.
	var wals []string
	for _, f := range files {
		if strings.HasSuffix(f, ".log") {
			wals = append(wals, f)
		}
	}
	file := files[rng.Intn(len(files))]
	if len(wals) > 0 && rng.Intn(2) == 0 {
		file = wals[len(wals)-1]
	}
	de.File = filepath.Base(file)
	if err := os.MkdirAll(backupDir, 0o755); err != nil {
		return "", err
	}
	backup := filepath.Join(backupDir, fmt.Sprintf("%d-%s", time.Now().UnixNano(), filepath.Base(file)))
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(backup, data, 0o644); err != nil {
		return "", err
	}
	size := int64(len(data))
	switch class {
	case "truncate":
		// Zipf-ish: 2^k .. 2^(k+1)-1 bytes, k Zipf-distributed over 0..20.
		k := rand.NewZipf(rng, 1.2, 1, 20).Uint64()
		cut := int64(1)<<k + rng.Int63n(int64(1)<<k)
		if cut > size {
			cut = size
		}
		de.Action = fmt.Sprintf("truncate %s %d -> %d bytes (cut %d)", de.File, size, size-cut, cut)
		return backup, os.Truncate(file, size-cut)
	case "bitflip":
		nbits := 1 + rng.Intn(4)
		var where []string
		for i := 0; i < nbits; i++ {
			off := rng.Int63n(size)
			bit := uint(rng.Intn(8))
			data[off] ^= 1 << bit
			where = append(where, fmt.Sprintf("%d:%d", off, bit))
		}
		de.Action = fmt.Sprintf("bitflip %s (%d bytes) at %s", de.File, size, strings.Join(where, ","))
		return backup, os.WriteFile(file, data, 0o644)
	default:
		de.Action = fmt.Sprintf("delete %s (%d bytes)", de.File, size)
		return backup, os.Remove(file)
	}
}

func restore(backup, name string) error {
	data, err := os.ReadFile(backup)
	if err != nil {
		return err
	}
	// name is a base name inside the store dir next to the backup dir's parent.
	dir := filepath.Join(filepath.Dir(filepath.Dir(backup)), "js", "herald")
	return os.WriteFile(filepath.Join(dir, name), data, 0o644)
}

// ------------------------------------------------------- power-loss replay

type plFile struct {
	entryPending, tracked   bool
	synced                  int64
	renamed                 bool
	renameSrc               string
	srcDurable, targetHadDu bool
}

// applyPowerLoss replays a journal written by storage/powerloss_fs.cc and
// cuts/removes files as a power cut would have (the rules of
// storage/powerloss_fs.h), then empties the journal. Returns what it changed.
func applyPowerLoss(journal string) ([]string, error) {
	f, err := os.Open(journal)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no power-loss journal %s: is --server-bin a power-loss build?", journal)
		}
		return nil, err
	}
	files := map[string]*plFile{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		p := strings.Split(sc.Text(), "\t")
		switch {
		case p[0] == "create" && len(p) == 3:
			st := &plFile{tracked: true}
			if old, ok := files[p[1]]; ok {
				st.entryPending = old.entryPending
			} else {
				st.entryPending = p[2] != "1"
			}
			files[p[1]] = st
		case p[0] == "sync" && len(p) == 3:
			st, ok := files[p[1]]
			if !ok {
				st = &plFile{}
				files[p[1]] = st
			}
			st.tracked = true
			st.synced, _ = strconv.ParseInt(p[2], 10, 64)
		case p[0] == "dirsync" && len(p) == 2:
			for path, st := range files {
				if filepath.Dir(path) == p[1] {
					st.entryPending, st.renamed = false, false
				}
			}
		case p[0] == "rename" && len(p) == 4:
			src := plFile{}
			if old, ok := files[p[1]]; ok {
				src = *old
				delete(files, p[1])
			}
			targetDurable := p[3] == "1"
			if old, ok := files[p[2]]; ok {
				targetDurable = !old.entryPending
			}
			st := src
			st.entryPending, st.renamed = true, true
			if src.renamed {
				st.renameSrc, st.srcDurable = src.renameSrc, src.srcDurable
			} else {
				st.renameSrc, st.srcDurable = p[1], !src.entryPending
			}
			st.targetHadDu = targetDurable
			files[p[2]] = &st
		case p[0] == "delete" && len(p) == 2:
			delete(files, p[1])
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []string
	for _, path := range paths {
		st := files[path]
		if _, err := os.Stat(path); err != nil {
			continue
		}
		final := path
		if st.entryPending {
			switch {
			case st.renamed && st.targetHadDu:
				// simplification: keep the new content of the target
			case st.renamed && st.srcDurable:
				if err := os.Rename(path, st.renameSrc); err != nil {
					return out, err
				}
				out = append(out, fmt.Sprintf("rename back %s -> %s", filepath.Base(path), filepath.Base(st.renameSrc)))
				final = st.renameSrc
			default:
				if err := os.Remove(path); err != nil {
					return out, err
				}
				out = append(out, "remove "+filepath.Base(path)+" (directory entry never synced)")
				continue
			}
		}
		if !st.tracked {
			continue
		}
		if fi, err := os.Stat(final); err == nil && fi.Size() > st.synced {
			if err := os.Truncate(final, st.synced); err != nil {
				return out, err
			}
			out = append(out, fmt.Sprintf("cut %s %d -> %d", filepath.Base(final), fi.Size(), st.synced))
		}
	}
	if lines == 0 {
		out = append(out, "journal empty")
	}
	return out, os.Truncate(journal, 0)
}
