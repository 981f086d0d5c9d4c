package models

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// A hash allocates 19 MiB; once no hash runs, they go back to the system
// instead of staying resident as free heap.
func TestHashingHandsItsMemoryBack(t *testing.T) {
	ctx := context.Background()
	h, err := HashPassword(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(ctx, h, "correct horse"); err != nil || !ok {
		t.Fatalf("check: %v %v", ok, err)
	}
	// FreeOSMemory runs in the background after the last hash; wait for it.
	var ms runtime.MemStats
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.ReadMemStats(&ms)
		// Heap memory the process holds from the system: the hash's garbage,
		// collected or not, counts until it is handed back.
		held := ms.HeapSys - ms.HeapReleased
		if held < argonMemory*1024/2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d MiB of heap still held after hashing", held>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
