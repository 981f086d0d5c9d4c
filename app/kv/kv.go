// Package kv holds the shared state that lets several instances run side
// by side: a fiber.Storage for sessions (and other expiring values) and
// atomic counters for throttling. Both live in the database; with
// REDIS_URL, the storage keeps a copy in Redis in front of the database
// (CachedStorage) and the counters count in Redis, and everything falls
// back to the database while Redis is unavailable (Redis, its circuit
// breaker).
package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"tienda/models"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Counter counts events per key within a fixed window, atomically, so that
// concurrent requests on several instances cannot exceed a limit.
type Counter interface {
	// Incr adds one to key (starting a window of length window when the key
	// is new or expired) and returns the new count and the time left.
	Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
	// Get returns the count and the time left (0, 0 when absent).
	Get(ctx context.Context, key string) (int64, time.Duration, error)
	Reset(ctx context.Context, key string) error
}

// SQLCounter keeps counters in the counters table.
type SQLCounter struct {
	DB  *gorm.DB
	Now func() time.Time
}

type counterRow struct {
	Key       string `gorm:"primaryKey"`
	Count     int64
	ExpiresAt int64
}

func (counterRow) TableName() string { return "counters" }

func (s *SQLCounter) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Incr is one upsert statement, so it is atomic on both databases.
func (s *SQLCounter) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	now := s.now()
	exp := now.Add(window).Unix()
	var row counterRow
	err := s.DB.WithContext(ctx).Raw(`INSERT INTO counters (key, count, expires_at) VALUES (?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN counters.expires_at <= ? THEN 1 ELSE counters.count + 1 END,
  expires_at = CASE WHEN counters.expires_at <= ? THEN excluded.expires_at ELSE counters.expires_at END
RETURNING key, count, expires_at`, key, exp, now.Unix(), now.Unix()).Scan(&row).Error
	if err != nil {
		return 0, 0, fmt.Errorf("counter incr: %w", err)
	}
	return row.Count, time.Unix(row.ExpiresAt, 0).Sub(now), nil
}

// Get reads a counter.
func (s *SQLCounter) Get(ctx context.Context, key string) (int64, time.Duration, error) {
	if models.TextProblem(key) != "" {
		return 0, 0, nil
	}
	var row counterRow
	err := s.DB.WithContext(ctx).Where("key = ? AND expires_at > ?", key, s.now().Unix()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("counter get: %w", err)
	}
	return row.Count, time.Unix(row.ExpiresAt, 0).Sub(s.now()), nil
}

// Reset deletes a counter.
func (s *SQLCounter) Reset(ctx context.Context, key string) error {
	if err := s.DB.WithContext(ctx).Where("key = ?", key).Delete(&counterRow{}).Error; err != nil {
		return fmt.Errorf("counter reset: %w", err)
	}
	return nil
}

// RedisCounter keeps counters in Redis (INCR and PEXPIRE in one script),
// and in Fallback (the database) while Redis is unavailable. Counts made
// during an outage stay in the database and are not carried over: when
// Redis returns, a window may allow up to one limit more than it should.
type RedisCounter struct {
	Redis    *Redis
	Prefix   string
	Fallback Counter
}

var incrScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`)

// Incr counts atomically in Redis.
func (r *RedisCounter) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	var res []int64
	err := r.Redis.Call(ctx, func(ctx context.Context) error {
		var err error
		res, err = incrScript.Run(ctx, r.Redis.Client, []string{r.Prefix + key}, window.Milliseconds()).Int64Slice()
		return err
	})
	if err == nil && len(res) == 2 {
		return res[0], time.Duration(res[1]) * time.Millisecond, nil
	}
	if r.fallback(ctx, err) {
		return r.Fallback.Incr(ctx, key, window)
	}
	return 0, 0, fmt.Errorf("redis counter incr: %w", err)
}

// fallback reports whether a failed call is served by Fallback instead.
func (r *RedisCounter) fallback(ctx context.Context, err error) bool {
	if r.Fallback == nil || ctx.Err() != nil || (err != nil && isReplyError(err) && !unavailableReply(err)) {
		return false
	}
	r.Redis.Fallback("counter")
	return true
}

// Get reads a counter from Redis.
func (r *RedisCounter) Get(ctx context.Context, key string) (int64, time.Duration, error) {
	var n int64
	var ttl time.Duration
	err := r.Redis.Call(ctx, func(ctx context.Context) error {
		var err error
		if n, err = r.Redis.Client.Get(ctx, r.Prefix+key).Int64(); err != nil {
			return err
		}
		ttl, err = r.Redis.Client.PTTL(ctx, r.Prefix+key).Result()
		return err
	})
	switch {
	case errors.Is(err, redis.Nil):
		return 0, 0, nil
	case err == nil:
		return n, ttl, nil
	case r.fallback(ctx, err):
		return r.Fallback.Get(ctx, key)
	}
	return 0, 0, fmt.Errorf("redis counter get: %w", err)
}

// Reset deletes a counter from Redis, and from Fallback (which may hold
// counts from an outage).
func (r *RedisCounter) Reset(ctx context.Context, key string) error {
	err := r.Redis.Call(ctx, func(ctx context.Context) error {
		return r.Redis.Client.Del(ctx, r.Prefix+key).Err()
	})
	if r.Fallback != nil {
		if ferr := r.Fallback.Reset(ctx, key); ferr != nil {
			return ferr
		}
		if err != nil && r.fallback(ctx, err) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("redis counter reset: %w", err)
	}
	return nil
}

// SQLStorage is a fiber.Storage in the kv table: sessions shared by every
// instance with no extra service to run.
type SQLStorage struct {
	DB  *gorm.DB
	Log *slog.Logger
}

type kvRow struct {
	Key       string `gorm:"primaryKey"`
	Value     []byte
	ExpiresAt int64
}

func (kvRow) TableName() string { return "kv" }

// Get returns nil, nil when the key is missing or expired.
func (s *SQLStorage) Get(key string) ([]byte, error) {
	val, _, err := s.get(key)
	return val, err
}

// get also returns when the value expires (unix seconds, 0: never).
func (s *SQLStorage) get(key string) ([]byte, int64, error) {
	if models.TextProblem(key) != "" {
		return nil, 0, nil // a forged cookie; no stored key has NUL bytes or bad UTF-8
	}
	var row kvRow
	err := s.DB.Where("key = ? AND (expires_at = 0 OR expires_at > ?)", key, time.Now().Unix()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("kv get: %w", err)
	}
	return row.Value, row.ExpiresAt, nil
}

// Set stores val under key for exp (0: no expiry).
func (s *SQLStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	var at int64
	if exp > 0 {
		at = time.Now().Add(exp).Unix()
	}
	row := kvRow{Key: key, Value: append([]byte(nil), val...), ExpiresAt: at}
	err := s.DB.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoUpdates: clause.AssignmentColumns([]string{"value", "expires_at"})}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("kv set: %w", err)
	}
	return nil
}

// Delete removes key.
func (s *SQLStorage) Delete(key string) error {
	if models.TextProblem(key) != "" {
		return nil
	}
	if err := s.DB.Where("key = ?", key).Delete(&kvRow{}).Error; err != nil {
		return fmt.Errorf("kv delete: %w", err)
	}
	return nil
}

// Reset removes every key.
func (s *SQLStorage) Reset() error {
	if err := s.DB.Where("1 = 1").Delete(&kvRow{}).Error; err != nil {
		return fmt.Errorf("kv reset: %w", err)
	}
	return nil
}

// Close does nothing: the database belongs to the server.
func (s *SQLStorage) Close() error { return nil }

// GC deletes expired keys and counters every interval until ctx ends.
func GC(ctx context.Context, db *gorm.DB, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := time.Now().Unix()
			if err := db.WithContext(ctx).Where("expires_at > 0 AND expires_at <= ?", now).Delete(&kvRow{}).Error; err != nil && ctx.Err() == nil {
				log.Warn("kv gc", "err", err)
			}
			if err := db.WithContext(ctx).Where("expires_at <= ?", now).Delete(&counterRow{}).Error; err != nil && ctx.Err() == nil {
				log.Warn("counter gc", "err", err)
			}
		}
	}
}
