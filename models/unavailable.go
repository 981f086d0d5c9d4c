package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
)

// Unavailable reports whether err, from a database call, means the
// database could not be reached or did not answer in time: the caller
// should answer 503 and try again later, not blame the request. It is a
// classification rather than a sentinel so that it serves every error
// from GORM, the store's and any other package's alike, with no wrapping
// to forget; it looks through wrapped errors with errors.Is and errors.As
// on the drivers' own types.
//
// True for: a deadline exceeded (the context's, or pgx's timeouts); net
// errors (connection refused or reset, i/o timeout, unknown host);
// driver.ErrBadConn; a connection lost mid-answer (io.ErrUnexpectedEOF,
// as pgx reports it); every pgconn.ConnectError; PostgreSQL's SQLSTATE
// class 08 (connection exception), 57P01/57P02/57P03 (admin shutdown,
// crash shutdown, cannot connect now), 53300 (too many connections) and
// 57014 (statement canceled: statement_timeout, or a cancel on a
// deadline) unless the caller's context was canceled; SQLite's BUSY and
// LOCKED, which it returns once busy_timeout has passed.
//
// False for context.Canceled: the caller gave up, the database did not.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) {
		return true
	}
	// Only the network's own errors: other types (SQLite's *Error among
	// them) also have net.Error's methods.
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var connectErr *pgconn.ConnectError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300", "57014":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
}
