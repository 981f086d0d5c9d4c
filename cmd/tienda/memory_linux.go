package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// madvise advice values from <linux/mman.h>; package syscall lacks PAGEOUT.
const (
	madvRandom   = 1
	madvDontneed = 4
	madvPageout  = 21 // Linux 5.4+
)

// releaseStartupPages tells the kernel that the executable's read-only
// mappings (code, read-only data, the function table) are read at random
// and hands back the pages that start-up faulted in. Package initialisers
// and app.New touch code all over a 90 MB binary, and Linux reads the file
// ahead on every such fault (by read_ahead_kb, several MB on some virtual
// disks, in large folios), so a freshly started server had 40-55 MB of its
// own binary mapped that it never executes again. Afterwards only what
// serving touches comes back, page by page. Writable data is left alone.
// It returns how many bytes were advised.
func releaseStartupPages() (int, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	// Pages of a binary copied or built moments ago are still dirty in the
	// page cache, and PAGEOUT cannot evict dirty pages: write them back
	// first (nothing to do for a binary that has been on disk a while).
	if exeFile, err := os.Open(exe); err == nil {
		_ = exeFile.Sync() // best effort: without it the trim is smaller
		exeFile.Close()
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("read own mappings: %w", err)
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || (fields[1] != "r-xp" && fields[1] != "r--p") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err := errors.Join(err1, err2); err != nil {
			return total, fmt.Errorf("parse mapping %q: %w", fields[0], err)
		}
		if err := madvise(start, end-start, madvRandom); err != nil {
			return total, err
		}
		// PAGEOUT evicts pages no other process maps; DONTNEED then unmaps
		// the shared rest from this process. Kernels before 5.4 lack PAGEOUT.
		if err := madvise(start, end-start, madvPageout); err != nil && !errors.Is(err, syscall.EINVAL) {
			return total, err
		}
		if err := madvise(start, end-start, madvDontneed); err != nil {
			return total, err
		}
		total += int(end - start)
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("read own mappings: %w", err)
	}
	return total, nil
}

func madvise(addr, length uint64, advice uintptr) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(addr), uintptr(length), advice); errno != 0 {
		return fmt.Errorf("madvise(%#x, %d, %d): %w", addr, length, advice, errno)
	}
	return nil
}
