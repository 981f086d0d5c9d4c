package models

import (
	"context"
	"errors"
	"testing"
	"time"
)

// At most cap(hashSlots) hashes run at once (each takes 19 MiB): with every
// slot taken a hash waits, gives up with its context, and runs once a
// slot is free.
func TestHashesAreBoundedByTheirSlots(t *testing.T) {
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := HashPassword(ctx, "correct horse"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash with every slot taken: %v", err)
	}
	release()
	h, err := HashPassword(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for range cap(hashSlots) - 1 {
		release()
	}
	if ok, err := CheckPassword(context.Background(), h, "correct horse"); err != nil || !ok {
		t.Fatalf("check: %v %v", ok, err)
	}
}
