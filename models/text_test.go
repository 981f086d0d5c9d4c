package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// TestTextEdgesRefusedBeforeTheDatabase: every string field of every
// validated struct refuses NUL bytes and invalid UTF-8 with a field
// message, with no tag asking for it; the store never sends them to the
// database (PostgreSQL would fail the statement: a 500).
func TestTextEdgesRefusedBeforeTheDatabase(t *testing.T) {
	cases := []struct {
		name  string
		rec   models.Entity
		field string
		msg   string
	}{
		{"NUL in a product name", &models.Product{Name: "a\x00b", Price: models.Cents(1)}, "name", "must not contain NUL bytes"},
		{"NUL in a description", &models.Product{Name: "ok", Description: "x\x00", Price: models.Cents(1)}, "description", "must not contain NUL bytes"},
		{"invalid UTF-8 in a description", &models.Product{Name: "ok", Description: "caf\xe9", Price: models.Cents(1)}, "description", "must be valid UTF-8"},
		{"NUL in document content", &models.Document{Title: "T", Content: "a\x00"}, "content", "must not contain NUL bytes"},
		{"invalid UTF-8 in a title", &models.Document{Title: "\xff", Content: "c"}, "title", "must be valid UTF-8"},
		{"NUL in an email", &models.User{Username: "ana", Email: "a\x00@b.c", PasswordHash: "x"}, "email", "must not contain NUL bytes"},
		{"invalid UTF-8 in a username", &models.User{Username: "an\xc3", PasswordHash: "x"}, "username", "must be valid UTF-8"},
	}
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			st := models.NewStore(testdb.Open(t, d))
			ctx := context.Background()
			for _, c := range cases {
				err := st.Create(ctx, c.rec)
				var ve *models.ValidationError
				if !errors.As(err, &ve) || ve.Fields[c.field] != c.msg {
					t.Errorf("%s: %v, want %s: %s", c.name, err, c.field, c.msg)
				}
			}
		})
	}
}

// TestLookupsRefuseTextNoDatabaseMaySee: logins and API keys carrying NUL
// bytes or invalid UTF-8 are refused as unknown, without asking the
// database (where PostgreSQL would fail the statement).
func TestLookupsRefuseTextNoDatabaseMaySee(t *testing.T) {
	secret := strings.Repeat("A", 43)
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			st := models.NewStore(testdb.Open(t, d))
			ctx := context.Background()
			for _, name := range []string{"ana\x00", "an\xffa"} {
				if _, err := st.Authenticate(ctx, name, "secret password"); !errors.Is(err, models.ErrInvalidCredentials) {
					t.Errorf("login as %q: %v", name, err)
				}
			}
			for _, key := range []string{"tnd_\x00abcdefghijkl_" + secret, "tnd_abcdefghijk\xff\xfe_" + secret, "tnd_ABCDEFGHIJKLM_" + secret} {
				if _, _, err := st.AuthenticateAPIKey(ctx, key); !errors.Is(err, models.ErrAPIKeyInvalid) {
					t.Errorf("API key %q: %v", key, err)
				}
			}
		})
	}
}
