package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

func TestParseAPIKeyPrefix(t *testing.T) {
	good := models.APIKeyPrefix + "abcdefghijklm_" + strings.Repeat("A", 43)
	cases := []struct {
		name, key string
		ok        bool
	}{
		{"well formed", good, true},
		{"no prefix", "abcdefghijklm_" + strings.Repeat("A", 43), false},
		{"short prefix", models.APIKeyPrefix + "abc_" + strings.Repeat("A", 43), false},
		{"short secret", models.APIKeyPrefix + "abcdefghijklm_AAAA", false},
		{"bad secret alphabet", models.APIKeyPrefix + "abcdefghijklm_" + strings.Repeat("*", 43), false},
		{"no separator", models.APIKeyPrefix + strings.Repeat("a", 57), false},
		{"huge", good + strings.Repeat("A", 500), false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := models.ParseAPIKeyPrefix(tc.key)
			if ok != tc.ok || (ok && p != "abcdefghijklm") {
				t.Fatalf("ParseAPIKeyPrefix(%q) = %q, %v", tc.key, p, ok)
			}
		})
	}
}

func TestAPIKeyStore(t *testing.T) {
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			s := models.NewStore(testdb.Open(t, d))
			u := &models.User{Username: "owner", Email: "o@example.com", IsActive: true, IsStaff: true}
			if err := u.SetPassword(ctx, "owner-password-1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			k, plain, err := s.CreateAPIKey(ctx, u.ID, " nightly export ", models.ScopeReadOnly, nil)
			if err != nil {
				t.Fatal(err)
			}
			if k.Name != "nightly export" || k.KeyHash != models.HashAPIKey(plain) || strings.Contains(k.KeyHash, plain) {
				t.Fatalf("created %+v", k)
			}
			if _, _, err := s.CreateAPIKey(ctx, u.ID, "x", "admin", nil); err == nil {
				t.Fatal("bad scope accepted")
			}
			got, owner, err := s.AuthenticateAPIKey(ctx, plain)
			if err != nil || got.ID != k.ID || owner.ID != u.ID || got.LastUsedAt == nil {
				t.Fatalf("authenticate: %+v %+v %v", got, owner, err)
			}
			if _, _, err := s.AuthenticateAPIKey(ctx, plain[:len(plain)-1]+"B"); !errors.Is(err, models.ErrAPIKeyInvalid) {
				t.Fatalf("wrong secret: %v", err)
			}
			if _, err := s.RevokeAPIKey(ctx, u.ID+1, k.ID); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("revoke by another user: %v", err)
			}
			if _, err := s.RevokeAPIKey(ctx, u.ID, k.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.AuthenticateAPIKey(ctx, plain); !errors.Is(err, models.ErrAPIKeyInvalid) {
				t.Fatalf("revoked key: %v", err)
			}
			keys, err := s.ListAPIKeys(ctx, 0)
			if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
				t.Fatalf("list: %+v %v", keys, err)
			}
		})
	}
}
