package models

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ValidationError lists problems by field, keyed by the field's JSON name
// (which is also its column, form input and query key).
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// FieldError builds a ValidationError for one field.
func FieldError(field, msg string) *ValidationError {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

// ConflictError reports a uniqueness violation on a field.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return fmt.Sprintf("conflict on %s: %s", e.Field, e.Message) }

// VersionConflictError means the record changed since the caller read it:
// the write was refused so that no edit is silently lost. Current holds the
// record as it is now (a pointer to the model type).
type VersionConflictError struct {
	Expected int64
	Current  Entity
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("version conflict: expected %d, current %d", e.Expected, e.Current.GetVersion())
}
