package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Entity is a record with an id and an optimistic-locking version. Every
// model the API or the admin writes implements it.
type Entity interface {
	GetID() int64
	GetVersion() int64
	String() string
	setMeta(id, version int64, created, updated time.Time)
}

// Source says where a change came from, for the history.
type Source string

// Sources of changes.
const (
	SourceAdmin  Source = "admin"
	SourceAPI    Source = "api"
	SourceSystem Source = "system"
)

// Actor is who makes a change. It travels in the context so that every
// write, from the API or the admin, is recorded with its author.
type Actor struct {
	UserID   int64
	Username string
	Source   Source
}

type actorKey struct{}

// WithActor attaches the acting user to ctx.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx (the system when none).
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Source: SourceSystem, Username: "system"}
}

// Store is the data access for every model: validation, optimistic
// locking and history in one place, for the API and the admin alike.
type Store struct {
	DB       *gorm.DB
	Validate *Validator
	// OnChange, when set, is called after every committed create, update
	// or delete with the object type ("product") and the action, from the
	// API and the admin alike (the server invalidates caches and counts
	// business metrics with it). It runs after the commit, never inside
	// the transaction, so readers cannot re-cache the old row.
	OnChange func(ctx context.Context, objectType, action string)
}

// NewStore wraps db.
func NewStore(db *gorm.DB) *Store {
	return &Store{DB: db, Validate: NewValidator()}
}

// Dialect is the store's database kind.
func (s *Store) Dialect() string { return Dialect(s.DB) }

// Get loads the record with id into dst (a pointer to a model).
func (s *Store) Get(ctx context.Context, dst Entity, id int64) error {
	err := s.DB.WithContext(ctx).Take(dst, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("get %s %d: %w", typeName(dst), id, err)
	}
	return nil
}

// Create validates and inserts rec, and records the creation in the
// history, in one transaction (one statement on PostgreSQL for the models
// that opt in, create.go).
func (s *Store) Create(ctx context.Context, rec Entity) error {
	if err := s.Validate.Struct(rec); err != nil {
		return err
	}
	now := Now()
	rec.setMeta(0, 1, now, now)
	if _, ok := rec.(oneStatementCreate); ok && s.Dialect() == Postgres {
		return s.changed(ctx, rec, "create", s.createInOneStatement(ctx, rec, now))
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("id").Create(rec).Error; err != nil {
			return translate(err, rec, "create "+typeName(rec))
		}
		if r, ok := rec.(relationHolder); ok {
			if err := r.saveRelations(tx, nil); err != nil {
				return err
			}
		}
		return s.log(ctx, tx, rec, "create", nil, rec)
	})
	return s.changed(ctx, rec, "create", err)
}

// updateHook lets a model act on its own change inside the update's
// transaction (a user whose password changed loses its sessions' tokens).
type updateHook interface {
	afterUpdate(tx *gorm.DB, old Entity) error
}

// changed reports a committed write to OnChange and passes err through.
func (s *Store) changed(ctx context.Context, rec Entity, action string, err error) error {
	if err == nil && s.OnChange != nil {
		s.OnChange(ctx, typeName(rec), action)
	}
	return err
}

// Update validates rec and writes it if the stored version still equals
// expected; otherwise it returns a *VersionConflictError holding the
// current record. The history gets the changed fields with old and new values.
func (s *Store) Update(ctx context.Context, rec Entity, expected int64) error {
	return s.Change(ctx, rec, rec.GetID(), expected, nil)
}

// AnyVersion, as Change's expected version, accepts whatever version the
// record has when the change runs.
const AnyVersion int64 = -1

// Change reads the record with id into rec, locked for the transaction,
// applies change to it (nil: rec already holds the new values) and writes
// it, with its history entry. It is refused with a *VersionConflictError
// when the record's version is not expected (a version that is not one,
// such as 0, never matches). With AnyVersion the change is applied to
// whatever version is there under the lock, so a write that another
// overtook never puts back what the other wrote, and is never refused for it.
func (s *Store) Change(ctx context.Context, rec Entity, id, expected int64, change func(Entity) error) error {
	if change == nil {
		if err := s.Validate.Struct(rec); err != nil {
			return err
		}
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old := newLike(rec)
		if err := lockRow(tx, s.Dialect()).Take(old, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return fmt.Errorf("load %s: %w", typeName(rec), err)
		}
		if r, ok := old.(relationHolder); ok {
			if err := r.loadRelations(tx); err != nil {
				return err
			}
		}
		if expected != AnyVersion && old.GetVersion() != expected {
			return &VersionConflictError{Expected: expected, Current: old}
		}
		version := old.GetVersion()
		if change != nil {
			// rec becomes a copy of the locked row, then the change.
			reflect.ValueOf(rec).Elem().Set(reflect.ValueOf(old).Elem())
			if err := change(rec); err != nil {
				return err
			}
			if err := s.Validate.Struct(rec); err != nil {
				return err
			}
		}
		rec.setMeta(old.GetID(), version+1, createdAt(old), Now())
		res := tx.Model(rec).Where("version = ?", version).Select("*").Omit("id", "created_at").Updates(rec)
		if res.Error != nil {
			return translate(res.Error, rec, "update "+typeName(rec))
		}
		if res.RowsAffected == 0 {
			return &VersionConflictError{Expected: version, Current: old}
		}
		if r, ok := rec.(relationHolder); ok {
			if err := r.saveRelations(tx, old); err != nil {
				return err
			}
		}
		if h, ok := rec.(updateHook); ok {
			if err := h.afterUpdate(tx, old); err != nil {
				return err
			}
		}
		return s.log(ctx, tx, rec, "update", old, rec)
	})
	return s.changed(ctx, rec, "update", err)
}

// Delete removes the record with id if its version equals expected (0: any
// version), and records the deletion.
func (s *Store) Delete(ctx context.Context, model Entity, id int64, expected int64) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old := newLike(model)
		if err := lockRow(tx, s.Dialect()).Take(old, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return fmt.Errorf("load %s: %w", typeName(model), err)
		}
		if expected != 0 && old.GetVersion() != expected {
			return &VersionConflictError{Expected: expected, Current: old}
		}
		return s.deleteRow(ctx, tx, old)
	})
	return s.changed(ctx, model, "delete", err)
}

// deleteRow deletes the locked row old and records the deletion.
func (s *Store) deleteRow(ctx context.Context, tx *gorm.DB, old Entity) error {
	if err := tx.Delete(old).Error; err != nil {
		return translate(err, old, "delete "+typeName(old))
	}
	return s.log(ctx, tx, old, "delete", old, nil)
}

// DeleteMatching deletes the records of model that scope selects, with ids
// up to maxID and at most limit of them, in id order, in transactions of at
// most batch rows: a keyset over id, so neither the set's rows nor one
// transaction over all of them is ever held. Each row is locked as it is
// selected (so it still matches scope when it goes), deleted and recorded
// in the history as Delete does. It returns how many were deleted (those
// of the batches committed, when it fails).
func (s *Store) DeleteMatching(ctx context.Context, model Entity, scope func(*gorm.DB) *gorm.DB, maxID int64, limit, batch int) (int, error) {
	n := 0
	var last int64
	rowType := reflect.TypeOf(model).Elem()
	for n < limit {
		var got []Entity
		err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			got = got[:0]
			rows := reflect.New(reflect.SliceOf(rowType))
			q := lockRow(scope(tx.Model(model)), s.Dialect()).Where("id > ? AND id <= ?", last, maxID).
				Order("id").Limit(min(batch, limit-n))
			if err := q.Find(rows.Interface()).Error; err != nil {
				return fmt.Errorf("select %s to delete: %w", typeName(model), err)
			}
			for i := range rows.Elem().Len() {
				old, _ := rows.Elem().Index(i).Addr().Interface().(Entity)
				if err := s.deleteRow(ctx, tx, old); err != nil {
					return err
				}
				got = append(got, old)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for range got {
			_ = s.changed(ctx, model, "delete", nil)
		}
		n += len(got)
		if len(got) < batch {
			break // the last batch: nothing more matches
		}
		last = got[len(got)-1].GetID()
	}
	return n, nil
}

// DeleteMany removes the records with the given ids, one history entry each.
func (s *Store) DeleteMany(ctx context.Context, model Entity, ids []int64) (int, error) {
	n := 0
	for _, id := range ids {
		err := s.Delete(ctx, model, id, 0)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func lockRow(tx *gorm.DB, dialect string) *gorm.DB {
	if dialect == Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx // SQLite: _txlock=immediate already serialises writers
}

// translate maps driver errors to domain errors.
func translate(err error, rec any, what string) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		field := "id"
		if u, ok := rec.(interface{ UniqueField() string }); ok {
			field = u.UniqueField()
		}
		return &ConflictError{Field: field, Message: "is already taken"}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// newLike is a new zero record of e's model (e is a pointer to a model
// struct, so the pointer to a new one implements Entity too).
func newLike(e Entity) Entity {
	n, _ := reflect.New(reflect.TypeOf(e).Elem()).Interface().(Entity)
	return n
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.ToLower(t.Name())
}

func createdAt(e Entity) time.Time {
	v := reflect.ValueOf(e).Elem().FieldByName("CreatedAt")
	if t, ok := v.Interface().(time.Time); ok {
		return t
	}
	return Now()
}

// Diff lists the fields whose JSON values differ between old and new (nil
// old: everything new; nil new: everything old), leaving out bookkeeping.
func Diff(old, new any) map[string]Change {
	o, n := asMap(old), asMap(new)
	out := map[string]Change{}
	for k, nv := range n {
		if skipInDiff(k) {
			continue
		}
		ov, had := o[k]
		if !had || string(ov) != string(nv) {
			out[k] = Change{Old: rawOrNil(ov, had), New: nv}
		}
	}
	for k, ov := range o {
		if _, still := n[k]; !still && !skipInDiff(k) {
			out[k] = Change{Old: ov}
		}
	}
	return out
}

// Change is one field's old and new JSON value.
type Change struct {
	Old json.RawMessage `json:"old,omitempty"`
	New json.RawMessage `json:"new,omitempty"`
}

func skipInDiff(k string) bool {
	switch k {
	case "id", "version", "created_at", "updated_at", "last_login", "index":
		return true
	}
	return false
}

func rawOrNil(v json.RawMessage, ok bool) json.RawMessage {
	if !ok {
		return nil
	}
	return v
}

func asMap(v any) map[string]json.RawMessage {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return map[string]json.RawMessage{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]json.RawMessage{}
	}
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}
