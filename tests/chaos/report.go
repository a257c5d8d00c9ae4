package main

// report: the figures section of docs/reliability.md, written from result
// JSON files (one per run, as run.sh leaves them in its --out dir).
//
//	chaos report [--doc FILE] [--commit C] [--build B] [--note TEXT] FILE.json...
//
// Without --doc the markdown goes to stdout. With --doc the text between
// reportBegin and reportEnd in FILE is replaced (the markers are kept; they
// must both be there, in that order). Figures: per run set (server, nodes,
// fault label) the correctness counts; per fault class (every injected fault,
// mixed runs included) the recovery times and publish gaps against their
// targets; the failed runs with their seeds.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

const (
	reportBegin = "<!-- BEGIN GENERATED: chaos figures (tests/chaos/report.sh); do not edit by hand -->"
	reportEnd   = "<!-- END GENERATED: chaos figures -->"
)

type runSet struct {
	kind, faults                                 string
	nodes, runs, failed, acked, lost, div, unexp int
	twice, noQuorum                              int
	dups, afterAck                               int64
	failedSeeds                                  []string
}

type classAgg struct {
	kind, class        string
	faults, skipped    int
	healthy, gap, rest []float64
	neverHealthy       int
}

func reportMain(args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	doc := fs.String("doc", "", "markdown file whose generated section is replaced (default: print)")
	commit := fs.String("commit", "", "commit the runs were made from")
	build := fs.String("build", "", "how the server binary was built (e.g. bazel -c opt)")
	note := fs.String("note", "", "one more line under the header (e.g. the commands run)")
	section := fs.String("section", "", "which generated section of --doc (\"\": the first, process-mode one)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var results []*Result
	for _, f := range fs.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "report: %v\n", err)
			return 2
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "report: %s: %v\n", f, err)
			return 2
		}
		results = append(results, &r)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "report: no result files")
		return 2
	}
	md := renderReport(results, *commit, *build, *note, time.Now().UTC())
	if *doc == "" {
		fmt.Print(md)
		return 0
	}
	old, err := os.ReadFile(*doc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		return 2
	}
	out, err := replaceGenerated(string(old), md, *section)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %s: %v\n", *doc, err)
		return 2
	}
	if err := os.WriteFile(*doc, []byte(out), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		return 2
	}
	fmt.Printf("report: %s updated from %d result files\n", *doc, len(results))
	return 0
}

// replaceGenerated puts md between the markers of doc (markers kept).
// section "" is the section of reportBegin/reportEnd; another name N has
// "<!-- BEGIN GENERATED: chaos figures N -->" ... "<!-- END GENERATED: chaos figures N -->".
func replaceGenerated(doc, md, section string) (string, error) {
	begin, end := reportBegin, reportEnd
	if section != "" {
		begin = "<!-- BEGIN GENERATED: chaos figures " + section + " -->"
		end = "<!-- END GENERATED: chaos figures " + section + " -->"
	}
	b := strings.Index(doc, begin)
	e := strings.Index(doc, end)
	if b < 0 || e < 0 || e < b {
		return "", fmt.Errorf("markers %q ... %q not found in order", begin, end)
	}
	return doc[:b+len(begin)] + "\n" + md + doc[e:], nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func msCell(v float64) string {
	if v < 0 {
		return "never"
	}
	if v >= 10000 {
		return fmt.Sprintf("%.1f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// pctCells: "p50 / p99 / max" of the values (negative = never happened
// within the harness's bound, counted apart).
func pctCells(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	var ok []float64
	never := 0
	for _, x := range v {
		if x < 0 {
			never++
		} else {
			ok = append(ok, x)
		}
	}
	s := "-"
	if len(ok) > 0 {
		sort.Float64s(ok)
		s = fmt.Sprintf("%s / %s / %s", msCell(pct(ok, 50)), msCell(pct(ok, 99)), msCell(ok[len(ok)-1]))
	}
	if never > 0 {
		s += fmt.Sprintf(" (%d never)", never)
	}
	return s
}

// target for a class's publish-gap or restart figure: the p99 bound in ms,
// and what it bounds. 0: none.
func classTarget(class string) (float64, string) {
	switch class {
	case "kill-leader":
		return 1000, "gap p99 < 1 s"
	case "kill-all":
		return 5000, "first ack after restart p99 < 5 s"
	}
	return 0, ""
}

func renderReport(results []*Result, commit, build, note string, now time.Time) string {
	sets := map[string]*runSet{}
	var setKeys []string
	classes := map[string]*classAgg{}
	var classKeys []string
	var failed []*Result
	kinds := map[string]bool{}
	for _, r := range results {
		kinds[r.ServerKind] = true
		k := fmt.Sprintf("%s\x00%d\x00%s", r.ServerKind, r.Nodes, r.Faults)
		s := sets[k]
		if s == nil {
			s = &runSet{kind: r.ServerKind, faults: r.Faults, nodes: r.Nodes}
			sets[k] = s
			setKeys = append(setKeys, k)
		}
		s.runs++
		if !r.Passed {
			s.failed++
			s.failedSeeds = append(s.failedSeeds, fmt.Sprint(r.Seed))
			failed = append(failed, r)
		}
		s.acked += r.Acked
		s.lost += r.Lost
		s.div += r.Divergent
		s.unexp += r.Unexpected
		s.twice += r.StoredTwice
		s.noQuorum += r.AckedNoQuorum
		s.dups += r.Duplicates
		for _, c := range r.Consumers {
			s.afterAck += c.RedeliveredAfterAck
		}
		for _, ev := range r.Events {
			ck := r.ServerKind + "\x00" + ev.Class
			a := classes[ck]
			if a == nil {
				a = &classAgg{kind: r.ServerKind, class: ev.Class}
				classes[ck] = a
				classKeys = append(classKeys, ck)
			}
			if ev.Skipped != "" {
				a.skipped++
				continue
			}
			a.faults++
			if ev.HealthyMs < 0 {
				a.neverHealthy++
			}
			a.healthy = append(a.healthy, ev.HealthyMs)
			switch ev.Class {
			case "kill-leader", "pause-leader", "part-leader", "part-majority":
				// partitions: fault to the first ack through the side with a quorum
				if ev.GapMs > 0 || ev.Class == "kill-leader" || ev.Class == "pause-leader" {
					a.gap = append(a.gap, ev.GapMs)
				}
			case "kill-all", "kill-majority", "powerloss-all":
				if ev.RecoverMs > 0 || ev.Class != "powerloss-all" {
					a.rest = append(a.rest, ev.RecoverMs)
				}
			}
		}
	}
	sort.Strings(setKeys)
	sort.Strings(classKeys)

	var b strings.Builder
	cpu := cpuModel()
	if cpu != "" {
		cpu = ", " + cpu
	}
	fmt.Fprintf(&b, "\n_Generated by `tests/chaos/report.sh` on %s from %d runs; commit %s; machine: %d cores%s",
		now.Format("2006-01-02 15:04 UTC"), len(results), orDash(commit), runtime.NumCPU(), cpu)
	if build != "" {
		fmt.Fprintf(&b, "; server build: %s", build)
	}
	b.WriteString("._\n")
	if note != "" {
		fmt.Fprintf(&b, "\n%s\n", note)
	}

	b.WriteString("\n**Correctness, per run set.** Lost, divergent, unexpected and stored-twice must be 0; ")
	b.WriteString("duplicates (deliveries of a sequence a consumer already had) are allowed by at-least-once delivery and counted.\n\n")
	b.WriteString("| server | nodes | faults | runs | failed | acked publishes | lost | divergent seqs | unexpected | stored twice | acked without quorum | duplicates delivered | redelivered after confirmed ack |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range setKeys {
		s := sets[k]
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n",
			s.kind, s.nodes, s.faults, s.runs, s.failed, s.acked, s.lost, s.div, s.unexp, s.twice, s.noQuorum, s.dups, s.afterAck)
	}

	b.WriteString("\n**Availability, per fault class** (every injected fault, mixed runs included; p50 / p99 / max). ")
	b.WriteString("*Recover* = heal (restart, SIGCONT) to STREAM.INFO showing every replica current. ")
	b.WriteString("*Publish gap* = the fault (SIGKILL / SIGSTOP of the stream leader) to the first acknowledged probe started after it. ")
	b.WriteString("*First ack after restart* = the restart of the killed nodes to the first acknowledged probe.\n\n")
	b.WriteString("| server | fault class | faults | recover after heal | publish gap | first ack after restart | target | met |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, k := range classKeys {
		a := classes[k]
		target, what := classTarget(a.class)
		met := "-"
		if target > 0 {
			v := a.gap
			if a.class == "kill-all" {
				v = a.rest
			}
			if len(v) > 0 {
				met = "yes"
				for _, x := range v {
					if x < 0 {
						met = "**no**"
					}
				}
				if met == "yes" && pct(v, 99) >= target {
					met = "**no**"
				}
			}
		}
		faults := fmt.Sprint(a.faults)
		if a.skipped > 0 {
			faults += fmt.Sprintf(" (+%d skipped)", a.skipped)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", a.kind, a.class, faults,
			pctCells(a.healthy), pctCells(a.gap), pctCells(a.rest), orDash(what), met)
	}

	if len(failed) > 0 {
		b.WriteString("\n**Failed runs** (replay one: `tests/chaos/run.sh --short --faults FAULTS --seed SEED --duration SECONDS --server-bin ...`, FAULTS `mixed` for a mixed run):\n\n")
		for _, r := range failed {
			var fs []string
			for i, f := range r.Failures {
				if i == 3 {
					fs = append(fs, fmt.Sprintf("... %d more (the run's log has them all)", len(r.Failures)-3))
					break
				}
				if len(f) > 160 {
					f = f[:160] + " ..."
				}
				fs = append(fs, f)
			}
			fmt.Fprintf(&b, "- %s, faults %s, seed %d, %.0f s: %s\n", r.ServerKind, r.Faults, r.Seed, r.DurationS, strings.Join(fs, "; "))
		}
	}
	if kinds["nats-server"] {
		b.WriteString("\nnats-server 2.9.10 rows: its followers do not always serve direct gets, so its per-replica reads may come from another replica (see `tests/chaos/README.md`); a divergent sequence still proves two replicas differ.\n")
	}
	b.WriteString("\n")
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
