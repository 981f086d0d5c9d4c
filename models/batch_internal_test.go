package models

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A shared create statement is written again record by record only when
// PostgreSQL said it refused it; after any other failure it may have
// committed, and writing again could store the records twice.
func TestRefused(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"a check constraint", fmt.Errorf("create product: %w", &pgconn.PgError{Code: "23514"}), true},
		{"a statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"a unique conflict", &ConflictError{Field: "username"}, true},
		{"the deadline", fmt.Errorf("create product: %w", context.DeadlineExceeded), false},
		{"a lost connection", fmt.Errorf("create product: %w", io.ErrUnexpectedEOF), false},
		{"no error", nil, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := refused(c.err); got != c.want {
				t.Fatalf("refused(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
