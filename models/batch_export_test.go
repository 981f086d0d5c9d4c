package models

import (
	"context"
	"reflect"
)

// WriteBatch writes recs as one batch, as concurrent creates would be,
// with no validation first (so that a test can hand the database a record
// it refuses), and returns each record's answer.
func (s *Store) WriteBatch(ctxs []context.Context, recs []Entity) []error {
	reqs := make([]*createReq, len(recs))
	now := Now()
	for i, rec := range recs {
		rec.setMeta(0, 1, now, now)
		e, err := newHistoryEntry(ctxs[i], rec, "create", nil, rec)
		if err != nil {
			panic(err)
		}
		reqs[i] = &createReq{waiter: newWaiter(ctxs[i]), rec: rec, entry: e, now: now}
	}
	s.writeBatch(reqs)
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// QueuedCreates is how many creates of rec's model wait for a batch, and
// how many are in the batch being written.
func (s *Store) QueuedCreates(rec Entity) (waiting, serving int) {
	return queueOf[*createReq](&s.creates, reflect.TypeOf(rec)).size()
}

// QueuedReads is how many reads of rec's model wait for a batch, and how
// many are in the batch being read.
func (s *Store) QueuedReads(rec Entity) (waiting, serving int) {
	return queueOf[*readReq](&s.reads, reflect.TypeOf(rec)).size()
}
