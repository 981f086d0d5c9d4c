package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Money is an exact amount with two decimal places, held as integer cents.
// The zero value is "unset", so a `required` rule can tell a missing price
// from a price of 0. It is never a float: JSON numbers and strings are parsed
// from their decimal text, and storage is NUMERIC(12,2) on PostgreSQL and
// integer cents on SQLite (which has no exact decimal type).
type Money struct {
	cents int64
	set   bool
}

// MaxMoneyCents is the largest amount NUMERIC(12,2) can hold.
const MaxMoneyCents = 999_999_999_999

// ErrMoneyFormat is wrapped by every parse failure.
var ErrMoneyFormat = errors.New("must be a decimal number with at most 10 digits before and 2 after the point")

var moneyRe = regexp.MustCompile(`^(-?)(\d{1,10})(?:\.(\d{1,2}))?$`)

// Cents makes a Money from integer cents.
func Cents(c int64) Money { return Money{cents: c, set: true} }

// ParseMoney parses "12", "12.3" or "12.34" (a leading "-" parses so that
// validation, not parsing, reports "must be 0 or more").
func ParseMoney(s string) (Money, error) {
	m := moneyRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Money{}, ErrMoneyFormat
	}
	whole, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return Money{}, ErrMoneyFormat
	}
	frac := m[3]
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	c := whole*100 + f
	if m[1] == "-" {
		c = -c
	}
	return Cents(c), nil
}

// CentsValue returns the amount in cents.
func (m Money) CentsValue() int64 { return m.cents }

// IsSet reports whether a value was given.
func (m Money) IsSet() bool { return m.set }

// String renders "12.34" (empty when unset).
func (m Money) String() string {
	if !m.set {
		return ""
	}
	c := m.cents
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// MarshalJSON writes a JSON number with exactly two decimals (exact text, no float).
func (m Money) MarshalJSON() ([]byte, error) {
	if !m.set {
		return []byte("null"), nil
	}
	return []byte(m.String()), nil
}

// UnmarshalJSON accepts a JSON number or a string holding one.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*m = Money{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return ErrMoneyFormat
		}
		s = u
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Scan reads NUMERIC text (PostgreSQL) or integer cents (SQLite).
func (m *Money) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*m = Money{}
		return nil
	case int64:
		*m = Cents(v)
		return nil
	case []byte:
		return m.scanText(string(v))
	case string:
		return m.scanText(v)
	case float64:
		// Only reached when a row was written by another tool as REAL: round to cents.
		*m = Cents(int64(v*100 + 0.5))
		return nil
	default:
		return fmt.Errorf("money: cannot scan %T", src)
	}
}

func (m *Money) scanText(s string) error {
	v, err := ParseMoney(s)
	if err != nil {
		return fmt.Errorf("money: scan %q: %w", s, err)
	}
	*m = v
	return nil
}

// Value is used outside GORM statements: cents as the portable form.
func (m Money) Value() (driver.Value, error) {
	if !m.set {
		return nil, nil
	}
	return m.cents, nil
}

// GormValue writes the dialect's representation: decimal text for
// PostgreSQL's NUMERIC, integer cents for SQLite.
func (m Money) GormValue(_ context.Context, db *gorm.DB) clause.Expr {
	if !m.set {
		return clause.Expr{SQL: "NULL"}
	}
	if db.Dialector.Name() == "postgres" {
		return clause.Expr{SQL: "?::numeric", Vars: []any{m.String()}}
	}
	return clause.Expr{SQL: "?", Vars: []any{m.cents}}
}
