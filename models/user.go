package models

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// User is a member of staff (or an API client account).
type User struct {
	ID           int64      `json:"id" gorm:"primaryKey"`
	Username     string     `json:"username" validate:"required,min=1,max=150,username"`
	Email        string     `json:"email" validate:"omitempty,email,max=254"`
	PasswordHash string     `json:"-"`
	IsActive     bool       `json:"is_active"`
	IsStaff      bool       `json:"is_staff"`
	IsSuperuser  bool       `json:"is_superuser"`
	LastLogin    *time.Time `json:"last_login"`
	// Groups (ids) and UserPermissions (codenames) are what the user holds;
	// nil: not loaded (Store.LoadRelations), left as stored on update.
	Groups          []int64  `json:"groups" gorm:"-"`
	UserPermissions []string `json:"user_permissions" gorm:"-"`
	// Perms is every permission the user holds, directly and through its
	// groups (Store.LoadPermissions): what Permission consults.
	Perms     PermSet   `json:"-" gorm:"-"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (u *User) GetID() int64      { return u.ID }
func (u *User) GetVersion() int64 { return u.Version }
func (u *User) String() string    { return u.Username }

// UniqueField names the field behind the table's unique index.
func (u *User) UniqueField() string { return "username" }
func (u *User) setMeta(id, version int64, created, updated time.Time) {
	u.ID, u.Version, u.CreatedAt, u.UpdatedAt = id, version, created, updated
}

// afterUpdate revokes every refresh token of a user who was deactivated
// or given a new password, so that no API client keeps signing in with
// the old credentials (access tokens still live out their 15 minutes).
func (u *User) afterUpdate(tx *gorm.DB, old Entity) error {
	prev, ok := old.(*User)
	if !ok || (prev.PasswordHash == u.PasswordHash && (u.IsActive || !prev.IsActive)) {
		return nil
	}
	now := Now()
	err := tx.Model(&RefreshToken{}).Where("user_id = ? AND revoked_at IS NULL", u.ID).
		Updates(map[string]any{"revoked_at": now, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("revoke refresh tokens of %s: %w", u.Username, err)
	}
	return nil
}

// UserList is the list spec for users.
var UserList = ListSpec{
	Table:        "users",
	Sortable:     []string{"id", "username", "email", "last_login", "created_at"},
	SearchFields: []string{"username", "email"},
	DefaultSort:  "username",
}

// MinPasswordLength is the shortest password accepted for new passwords.
const MinPasswordLength = 8

// ErrInvalidCredentials covers unknown users, wrong passwords and inactive
// accounts alike, so a response never tells which.
var ErrInvalidCredentials = errors.New("invalid username or password")

// CheckNewPassword validates a password chosen by a person.
func CheckNewPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLength {
		return FieldError("password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	}
	if len(pw) > 1024 {
		return FieldError("password", "must be at most 1024 characters")
	}
	return nil
}

// SetPassword hashes pw into u (after checking it).
func (u *User) SetPassword(ctx context.Context, pw string) error {
	if err := CheckNewPassword(pw); err != nil {
		return err
	}
	h, err := HashPassword(ctx, pw)
	if err != nil {
		return err
	}
	u.PasswordHash = h
	return nil
}

// UserByUsername finds a user case-insensitively.
func (s *Store) UserByUsername(ctx context.Context, username string) (*User, error) {
	if TextProblem(username) != "" {
		return nil, ErrNotFound // no stored username has NUL bytes or bad UTF-8
	}
	var u User
	err := s.DB.WithContext(ctx).Where("lower(username) = lower(?)", username).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("user by username: %w", err)
	}
	return &u, nil
}

// Authenticate checks credentials; only active users pass. It spends the
// same hashing time whether or not the user exists.
func (s *Store) Authenticate(ctx context.Context, username, password string) (*User, error) {
	username = strings.TrimSpace(username)
	if username == "" || password == "" || len(username) > 150 || len(password) > 1024 {
		return nil, ErrInvalidCredentials
	}
	u, err := s.UserByUsername(ctx, username)
	if errors.Is(err, ErrNotFound) {
		_, _ = CheckPassword(ctx, dummyHash, password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	ok, err := CheckPassword(ctx, u.PasswordHash, password)
	if err != nil && !errors.Is(err, ErrBadHash) {
		return nil, err
	}
	if !ok || !u.IsActive {
		return nil, ErrInvalidCredentials
	}
	now := Now()
	if err := s.DB.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).UpdateColumn("last_login", now).Error; err != nil {
		return nil, fmt.Errorf("record login: %w", err)
	}
	u.LastLogin = &now
	return u, nil
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&User{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// RandomPassword returns a strong random password for generated accounts.
func RandomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
