package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// ErrNoJob is returned by Claim when no job is ready.
var ErrNoJob = errors.New("no job ready")

// Job is one unit of durable background work (the jobs table). Times are
// unix milliseconds.
type Job struct {
	ID          int64 `gorm:"primaryKey"`
	Kind        string
	Key         string
	Payload     string
	State       string
	Attempts    int
	MaxAttempts int
	RunAt       int64
	LockedBy    string
	LockedUntil int64
	LastError   string
	CreatedAt   int64 `gorm:"autoCreateTime:false"`
	UpdatedAt   int64 `gorm:"autoUpdateTime:false"`
}

// TableName is the job table.
func (Job) TableName() string { return "jobs" }

// Queue is a small database-backed job queue that behaves the same on
// PostgreSQL and SQLite: jobs survive restarts, a claimed job carries a
// lease (a crashed worker's job is claimed again when it expires), failures
// are retried with exponential backoff, at most one job per key is queued,
// and a key with a running job is never claimed twice at once, across any
// number of instances. On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED;
// on SQLite the single UPDATE runs in an immediate (write-locked) transaction.
type Queue struct {
	DB *gorm.DB
	// Clock returns the current time (tests move it).
	Clock func() time.Time
}

// NewQueue returns a queue over db.
func NewQueue(db *gorm.DB) *Queue { return &Queue{DB: db, Clock: time.Now} }

func (q *Queue) nowMS() int64 { return q.Clock().UnixMilli() }

// Enqueue adds a job unless one with the same key is already queued (its
// run time is then brought forward to now). db may be a transaction, so
// the job commits with the change that caused it.
func Enqueue(db *gorm.DB, now time.Time, kind, key, payload string, maxAttempts int) error {
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	ms := now.UnixMilli()
	err := db.Exec(`INSERT INTO jobs (kind, key, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)
ON CONFLICT (key) WHERE state = 'queued' DO UPDATE SET run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END, payload = excluded.payload, updated_at = excluded.updated_at`,
		kind, key, payload, maxAttempts, ms, ms, ms).Error
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", key, err)
	}
	return nil
}

// Enqueue adds a job (see the package function).
func (q *Queue) Enqueue(ctx context.Context, kind, key, payload string) error {
	return Enqueue(q.DB.WithContext(ctx), q.Clock(), kind, key, payload, 0)
}

// Claim takes the next ready job of one of kinds for worker, holding it for
// lease. It returns ErrNoJob when nothing is ready.
func (q *Queue) Claim(ctx context.Context, worker string, lease time.Duration, kinds ...string) (*Job, error) {
	now := q.nowMS()
	lock := ""
	if Dialect(q.DB) == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var jobs []Job
	err := q.DB.WithContext(ctx).Raw(`UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?, locked_until = ?, updated_at = ?
WHERE id = (
  SELECT j.id FROM jobs j
  WHERE j.kind IN ? AND ((j.state = 'queued' AND j.run_at <= ?) OR (j.state = 'running' AND j.locked_until < ?))
    AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.key = j.key AND r.id <> j.id AND r.state = 'running' AND r.locked_until >= ?)
  ORDER BY j.run_at, j.id LIMIT 1`+lock+`)
RETURNING id, kind, key, payload, state, attempts, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at`,
		worker, now+lease.Milliseconds(), now, kinds, now, now, now).Scan(&jobs).Error
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	if len(jobs) == 0 {
		return nil, ErrNoJob
	}
	return &jobs[0], nil
}

// Extend renews the lease of a running job the worker still holds; it
// reports false when the job was taken over (its lease had expired).
func (q *Queue) Extend(ctx context.Context, j *Job, lease time.Duration) (bool, error) {
	now := q.nowMS()
	res := q.DB.WithContext(ctx).Exec(`UPDATE jobs SET locked_until = ?, updated_at = ? WHERE id = ? AND state = 'running' AND locked_by = ?`,
		now+lease.Milliseconds(), now, j.ID, j.LockedBy)
	if res.Error != nil {
		return false, fmt.Errorf("extend job %d: %w", j.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Complete marks a job done, if worker still holds it.
func (q *Queue) Complete(ctx context.Context, j *Job) error {
	res := q.DB.WithContext(ctx).Exec(`UPDATE jobs SET state = 'done', last_error = '', locked_until = 0, updated_at = ? WHERE id = ? AND state = 'running' AND locked_by = ?`,
		q.nowMS(), j.ID, j.LockedBy)
	if res.Error != nil {
		return fmt.Errorf("complete job %d: %w", j.ID, res.Error)
	}
	return nil
}

// Fail records a failed attempt: the job is queued again after backoff
// (exponential from base, capped at max), or fails for good once it has
// used its attempts. It reports whether the job failed for good.
func (q *Queue) Fail(ctx context.Context, j *Job, cause error, base, max time.Duration) (bool, error) {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	final := j.Attempts >= j.MaxAttempts
	now := q.nowMS()
	var res *gorm.DB
	if final {
		res = q.DB.WithContext(ctx).Exec(`UPDATE jobs SET state = 'failed', last_error = ?, locked_until = 0, updated_at = ? WHERE id = ? AND state = 'running' AND locked_by = ?`,
			msg, now, j.ID, j.LockedBy)
	} else {
		delay := Backoff(j.Attempts, base, max)
		// A job for the same key queued meanwhile already covers this one.
		res = q.DB.WithContext(ctx).Exec(`UPDATE jobs SET state = CASE WHEN EXISTS (SELECT 1 FROM jobs o WHERE o.key = jobs.key AND o.state = 'queued') THEN 'done' ELSE 'queued' END,
 last_error = ?, run_at = ?, locked_until = 0, updated_at = ? WHERE id = ? AND state = 'running' AND locked_by = ?`,
			msg, now+delay.Milliseconds(), now, j.ID, j.LockedBy)
	}
	if res.Error != nil {
		return final, fmt.Errorf("fail job %d: %w", j.ID, res.Error)
	}
	return final, nil
}

// Backoff is base * 2^(attempt-1), capped at max.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// Prune deletes finished jobs older than age.
func (q *Queue) Prune(ctx context.Context, age time.Duration) error {
	err := q.DB.WithContext(ctx).Exec(`DELETE FROM jobs WHERE state IN ('done', 'failed') AND updated_at < ?`,
		q.Clock().Add(-age).UnixMilli()).Error
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("prune jobs: %w", err)
	}
	return nil
}
