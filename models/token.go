package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RefreshToken records an issued refresh token (by the hash of its jti) so
// that refresh tokens rotate: each is used once, and a second use revokes
// its whole family (a stolen token then stops working for the thief too).
type RefreshToken struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	FamilyID  string
	JTIHash   string `gorm:"column:jti_hash"`
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Errors of refresh-token use.
var (
	ErrTokenInvalid = errors.New("refresh token is invalid, expired or revoked")
	ErrTokenReused  = errors.New("refresh token was already used; its family is revoked")
)

// HashJTI hashes a token id for storage.
func HashJTI(jti string) string {
	h := sha256.Sum256([]byte(jti))
	return hex.EncodeToString(h[:])
}

// SaveRefreshToken records a newly issued refresh token.
func (s *Store) SaveRefreshToken(ctx context.Context, userID int64, family, jti string, expires time.Time) error {
	now := Now()
	rt := RefreshToken{UserID: userID, FamilyID: family, JTIHash: HashJTI(jti), ExpiresAt: expires.UTC(), Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.DB.WithContext(ctx).Omit("id").Create(&rt).Error; err != nil {
		return fmt.Errorf("save refresh token: %w", err)
	}
	return nil
}

// UseRefreshToken marks the token with jti as used and returns it. A token
// used before revokes its family and returns ErrTokenReused.
func (s *Store) UseRefreshToken(ctx context.Context, jti string) (*RefreshToken, error) {
	var out RefreshToken
	var reused bool
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockRow(tx, s.Dialect()).Where("jti_hash = ?", HashJTI(jti)).Take(&out).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrTokenInvalid
			}
			return fmt.Errorf("load refresh token: %w", err)
		}
		now := Now()
		if out.RevokedAt != nil || !out.ExpiresAt.After(now) {
			return ErrTokenInvalid
		}
		if out.UsedAt != nil {
			reused = true
			return revokeFamily(tx, out.FamilyID)
		}
		res := tx.Model(&RefreshToken{}).Where("id = ? AND used_at IS NULL", out.ID).
			Updates(map[string]any{"used_at": now, "updated_at": now, "version": gorm.Expr("version + 1")})
		if res.Error != nil {
			return fmt.Errorf("use refresh token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			reused = true
			return revokeFamily(tx, out.FamilyID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, ErrTokenReused
	}
	return &out, nil
}

// RevokeRefreshFamily revokes every token of the family of jti (logout).
func (s *Store) RevokeRefreshFamily(ctx context.Context, jti string) error {
	var rt RefreshToken
	err := s.DB.WithContext(ctx).Where("jti_hash = ?", HashJTI(jti)).Take(&rt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrTokenInvalid
	}
	if err != nil {
		return fmt.Errorf("load refresh token: %w", err)
	}
	return revokeFamily(s.DB.WithContext(ctx), rt.FamilyID)
}

func revokeFamily(tx *gorm.DB, family string) error {
	now := Now()
	err := tx.Model(&RefreshToken{}).Where("family_id = ? AND revoked_at IS NULL", family).
		Updates(map[string]any{"revoked_at": now, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	return nil
}

// TokenHolder reads what an access token's validity depends on, fresh: the
// user it names (nil when deleted) and whether its refresh-token family is
// revoked. A family is revoked by logout, by the reuse of one of its
// refresh tokens, and for every family of a user whose password changed
// or who was deactivated (User.afterUpdate), so checking it ends the
// access tokens of every ended session.
func (s *Store) TokenHolder(ctx context.Context, userID int64, family string) (*User, bool, error) {
	var u User
	err := s.DB.WithContext(ctx).Take(&u, userID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("token holder: %w", err)
	}
	// The family must be one issued to this user, and none of it revoked.
	var counts struct{ Issued, Revoked int64 }
	err = s.DB.WithContext(ctx).Model(&RefreshToken{}).
		Select("COUNT(*) AS issued, COUNT(revoked_at) AS revoked").
		Where("family_id = ? AND user_id = ?", family, userID).Scan(&counts).Error
	if err != nil {
		return nil, false, fmt.Errorf("token family: %w", err)
	}
	return &u, counts.Issued == 0 || counts.Revoked > 0, nil
}
