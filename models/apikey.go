package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// API key scopes.
const (
	ScopeReadOnly  = "read-only"
	ScopeReadWrite = "read-write"
)

// APIKeyPrefix starts every key, so that leaked keys are easy to spot.
const APIKeyPrefix = "tnd_"

// apiKeyTouchInterval limits how often last_used_at is written: once a
// minute per key is precise enough and keeps reads free of writes.
const apiKeyTouchInterval = time.Minute

// APIKey lets a program call the API as its owner, with the key's scope.
// Only the SHA-256 hash of the key is stored; the key itself is shown once.
type APIKey struct {
	ID         int64      `json:"id" gorm:"primaryKey"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name" validate:"required,min=1,max=100,singleline"`
	Prefix     string     `json:"prefix"`
	KeyHash    string     `json:"-"`
	Scope      string     `json:"scope" validate:"required,oneof=read-only read-write"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time `json:"expires_at"`
	Version   int64      `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func (k *APIKey) GetID() int64      { return k.ID }
func (k *APIKey) GetVersion() int64 { return k.Version }
func (k *APIKey) String() string    { return k.Name + " (" + k.Prefix + "…)" }
func (k *APIKey) setMeta(id, version int64, created, updated time.Time) {
	k.ID, k.Version, k.CreatedAt, k.UpdatedAt = id, version, created, updated
}

// Active reports whether the key may still be used: neither revoked nor
// expired.
func (k *APIKey) Active() bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || Now().Before(*k.ExpiresAt))
}

// Expired reports whether the key has passed its expiry.
func (k *APIKey) Expired() bool { return k.ExpiresAt != nil && !Now().Before(*k.ExpiresAt) }

// ReadOnly reports whether the key's scope forbids writes.
func (k *APIKey) ReadOnly() bool { return k.Scope != ScopeReadWrite }

// ErrAPIKeyInvalid covers malformed, unknown and revoked keys and inactive
// owners alike, so that a response never tells which.
var ErrAPIKeyInvalid = errors.New("API key is invalid or revoked")

// HashAPIKey is the stored form of a key.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

var prefixEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newAPIKey returns a fresh key and its public prefix:
// tnd_<prefix>_<secret>, 8 random bytes of prefix and 32 of secret.
func newAPIKey() (key, prefix string, err error) {
	p := make([]byte, 8)
	sec := make([]byte, 32)
	if _, err := rand.Read(p); err != nil {
		return "", "", fmt.Errorf("generate API key: %w", err)
	}
	if _, err := rand.Read(sec); err != nil {
		return "", "", fmt.Errorf("generate API key: %w", err)
	}
	prefix = strings.ToLower(prefixEncoding.EncodeToString(p))
	return APIKeyPrefix + prefix + "_" + base64.RawURLEncoding.EncodeToString(sec), prefix, nil
}

// ParseAPIKeyPrefix returns the public prefix of a well-formed key.
func ParseAPIKeyPrefix(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok || len(key) > 128 {
		return "", false
	}
	prefix, secret, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) != 13 || len(secret) != 43 {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", false
	}
	// The prefix reaches SQL: only what newAPIKey makes (no NUL bytes,
	// which PostgreSQL would refuse with an error).
	if _, err := prefixEncoding.DecodeString(strings.ToUpper(prefix)); err != nil || prefix != strings.ToLower(prefix) {
		return "", false
	}
	return prefix, true
}

// CreateAPIKey makes a key for the user and returns it with the plain key,
// which is never stored and cannot be shown again. expires, when not nil,
// must lie in the future.
func (s *Store) CreateAPIKey(ctx context.Context, userID int64, name, scope string, expires *time.Time) (*APIKey, string, error) {
	if expires != nil && !expires.After(Now()) {
		return nil, "", FieldError("expires_at", "must be in the future")
	}
	key, prefix, err := newAPIKey()
	if err != nil {
		return nil, "", err
	}
	now := Now()
	k := &APIKey{UserID: userID, Name: strings.TrimSpace(name), Prefix: prefix, KeyHash: HashAPIKey(key), Scope: scope,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if expires != nil {
		at := expires.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &at
	}
	if err := s.Validate.Struct(k); err != nil {
		return nil, "", err
	}
	if err := s.DB.WithContext(ctx).Omit("id").Create(k).Error; err != nil {
		return nil, "", translate(err, k, "create API key")
	}
	return k, key, nil
}

// ListAPIKeys returns the user's keys, newest first (userID 0: everyone's,
// for superusers in the admin).
func (s *Store) ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	q := s.DB.WithContext(ctx).Order("id DESC")
	if userID != 0 {
		q = q.Where("user_id = ?", userID)
	}
	var out []APIKey
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes the key with id if it belongs to userID (userID 0:
// any owner). Revoking twice is harmless; an unknown key is ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, userID, id int64) (*APIKey, error) {
	var k APIKey
	q := s.DB.WithContext(ctx).Where("id = ?", id)
	if userID != 0 {
		q = q.Where("user_id = ?", userID)
	}
	if err := q.Take(&k).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("load API key: %w", err)
	}
	if k.RevokedAt != nil {
		return &k, nil
	}
	now := Now()
	err := s.DB.WithContext(ctx).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", k.ID).
		Updates(map[string]any{"revoked_at": now, "updated_at": now, "version": gorm.Expr("version + 1")}).Error
	if err != nil {
		return nil, fmt.Errorf("revoke API key: %w", err)
	}
	k.RevokedAt, k.UpdatedAt, k.Version = &now, now, k.Version+1
	return &k, nil
}

// AuthenticateAPIKey finds the active key and its active owner, and records
// the use (at most once a minute). Every failure is ErrAPIKeyInvalid.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (*APIKey, *User, error) {
	prefix, ok := ParseAPIKeyPrefix(key)
	if !ok {
		return nil, nil, ErrAPIKeyInvalid
	}
	var k APIKey
	err := s.DB.WithContext(ctx).Where("prefix = ?", prefix).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrAPIKeyInvalid
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find API key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(k.KeyHash), []byte(HashAPIKey(key))) != 1 || !k.Active() {
		return nil, nil, ErrAPIKeyInvalid
	}
	var u User
	if err := s.DB.WithContext(ctx).Take(&u, k.UserID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil, ErrAPIKeyInvalid
		}
		return nil, nil, fmt.Errorf("find API key owner: %w", err)
	}
	if !u.IsActive {
		return nil, nil, ErrAPIKeyInvalid
	}
	now := Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= apiKeyTouchInterval {
		if err := s.DB.WithContext(ctx).Model(&APIKey{}).Where("id = ?", k.ID).UpdateColumn("last_used_at", now).Error; err != nil {
			return nil, nil, fmt.Errorf("record API key use: %w", err)
		}
		k.LastUsedAt = &now
	}
	return &k, &u, nil
}
