package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB reads how much of the process's file-backed memory is resident.
func rssFileKB(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestReleaseStartupPages(t *testing.T) {
	before := rssFileKB(t)
	n, err := releaseStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	t.Logf("advised %d MB; resident file pages %d kB -> %d kB", n>>20, before, after)
	if n == 0 {
		t.Fatal("no read-only mapping of the executable was found")
	}
	if after >= before {
		t.Errorf("resident file pages did not shrink: %d kB -> %d kB", before, after)
	}
}
