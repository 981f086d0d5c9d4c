package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStorage is a fiber.Storage over an existing Redis client (sessions
// shared by every instance).
type RedisStorage struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStorage keeps keys under prefix.
func NewRedisStorage(c redis.UniversalClient, prefix string) *RedisStorage {
	return &RedisStorage{c: c, prefix: prefix}
}

func (r *RedisStorage) Get(key string) ([]byte, error) {
	b, err := r.c.Get(context.Background(), r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis get: %w", err)
	}
	return b, nil
}

func (r *RedisStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	if err := r.c.Set(context.Background(), r.prefix+key, val, exp).Err(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

func (r *RedisStorage) Delete(key string) error {
	if err := r.c.Del(context.Background(), r.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis del: %w", err)
	}
	return nil
}

// Reset deletes only this store's keys, never the whole Redis database.
func (r *RedisStorage) Reset() error {
	ctx := context.Background()
	iter := r.c.Scan(ctx, 0, r.prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		if err := r.c.Del(ctx, iter.Val()).Err(); err != nil {
			return fmt.Errorf("redis reset: %w", err)
		}
	}
	return iter.Err()
}

func (r *RedisStorage) Close() error { return nil }
