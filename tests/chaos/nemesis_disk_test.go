package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The Go replay follows storage/powerloss_fs.cc's rules (its test
// UnsyncedDirectoryEntryIsRemoved is the same case).
func TestApplyPowerLoss(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, n := range []string{"a2", "b", "c", "old"} {
		if err := os.WriteFile(p(n), []byte("0123456789abcdef"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	journal := p("journal")
	j := "boot\n" +
		"create\t" + p("a") + "\t0\n" + "sync\t" + p("a") + "\t10\n" + "dirsync\t" + dir + "\n" +
		"create\t" + p("b") + "\t0\n" + "sync\t" + p("b") + "\t10\n" + // entry never synced
		"create\t" + p("c") + "\t0\n" + // never synced at all
		"rename\t" + p("a") + "\t" + p("a2") + "\t0\n" + // not synced: undone
		"sync\t" + p("old") + "\t12\n" // a file from before the journal
	if err := os.WriteFile(journal, []byte(j), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := applyPowerLoss(journal)
	if err != nil {
		t.Fatal(err)
	}
	size := func(n string) int64 {
		st, err := os.Stat(p(n))
		if err != nil {
			return -1
		}
		return st.Size()
	}
	if size("a") != 10 || size("a2") != -1 || size("b") != -1 || size("c") != -1 || size("old") != 12 {
		t.Fatalf("a=%d a2=%d b=%d c=%d old=%d; %v", size("a"), size("a2"), size("b"), size("c"), size("old"), out)
	}
	if size("journal") != 0 {
		t.Fatalf("journal not emptied")
	}
}
