package models

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A hash allocates 19 MiB; once no hash runs, they go back to the system
// instead of staying resident as free heap.
func TestHashingHandsItsMemoryBack(t *testing.T) {
	ctx := context.Background()
	// Heap memory the process holds from the system: a hash's garbage,
	// collected or not, counts until it is handed back.
	var ms runtime.MemStats
	held := func() uint64 {
		runtime.ReadMemStats(&ms)
		return ms.HeapSys - ms.HeapReleased
	}
	debug.FreeOSMemory()
	before := held()
	h, err := HashPassword(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(ctx, h, "correct horse"); err != nil || !ok {
		t.Fatalf("check: %v %v", ok, err)
	}
	// FreeOSMemory runs in the background after the last hash; wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		after := held()
		if after < before+argonMemory*1024/2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap held from the system: %d MiB before hashing, %d MiB after", before>>20, after>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
