package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// The hottest statements of a model that nothing hooks skip GORM's
// statement building and callback chain on PostgreSQL. Under load GORM's
// Take cost a product detail 51-68 µs of server CPU and the direct read
// 41-51 µs (docs/benchmarks.md); a create went from a four-round-trip
// transaction to one statement. Both are derived from GORM's own schema of the model, so there
// is no second list of columns to keep in step.

// directModel marks models the store may read and create without GORM's
// callbacks. A model opts in only while no callback hooks it: the indexer
// hooks documents' creation and loading, tracing is served by Store.Span.
type directModel interface{ noGORMCallbacks() }

func (s *Store) direct(e Entity) bool {
	_, ok := e.(directModel)
	return ok && s.Dialect() == Postgres
}

// directRead is a model's read-by-id statement and the fields it fills.
type directRead struct {
	sql    string
	fields []*schema.Field
}

func (s *Store) readPlan(dst Entity) (*directRead, error) {
	t := reflect.TypeOf(dst)
	if p, ok := s.reads.Load(t); ok {
		return p.(*directRead), nil
	}
	stmt := &gorm.Statement{DB: s.DB}
	if err := stmt.Parse(dst); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", typeName(dst), err)
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil {
		return nil, fmt.Errorf("schema of %s: no primary key", typeName(dst))
	}
	plan := &directRead{}
	cols := make([]string, 0, len(stmt.Schema.Fields))
	for _, f := range stmt.Schema.Fields {
		if f.DBName == "" || !f.Readable {
			continue
		}
		cols = append(cols, stmt.Quote(f.DBName))
		plan.fields = append(plan.fields, f)
	}
	plan.sql = "SELECT " + strings.Join(cols, ", ") + " FROM " + stmt.Quote(stmt.Schema.Table) + " WHERE " +
		stmt.Quote(pk.DBName) + " = $1"
	s.reads.Store(t, plan)
	return plan, nil
}

// getDirect loads the record with id into dst with one prepared statement.
func (s *Store) getDirect(ctx context.Context, dst Entity, id int64) (err error) {
	plan, err := s.readPlan(dst)
	if err != nil {
		return err
	}
	db, err := s.DB.DB()
	if err != nil {
		return fmt.Errorf("get %s %d: %w", typeName(dst), id, err)
	}
	if s.Span != nil {
		var end func(error)
		ctx, end = s.Span(ctx, "db.query")
		defer func() { end(err) }()
	}
	begin := time.Now()
	rv := reflect.ValueOf(dst).Elem()
	dests := make([]any, len(plan.fields))
	for i, f := range plan.fields {
		dests[i] = f.ReflectValueOf(ctx, rv).Addr().Interface()
	}
	err = db.QueryRowContext(ctx, plan.sql, id).Scan(dests...)
	if errors.Is(err, sql.ErrNoRows) {
		s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.sql, 0 }, gorm.ErrRecordNotFound)
		return ErrNotFound
	}
	s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.sql, 1 }, err)
	switch {
	case err != nil:
		return fmt.Errorf("get %s %d: %w", typeName(dst), id, err)
	}
	return nil
}

// pgPlaceholder matches the bind variables GORM writes for PostgreSQL.
var pgPlaceholder = regexp.MustCompile(`\$[0-9]+`)

// createOneStatement inserts rec and its history entry in one PostgreSQL
// statement (the record's INSERT as a CTE feeding the history INSERT),
// atomic on its own, instead of a transaction of four round trips (BEGIN,
// two INSERTs, COMMIT).
func (s *Store) createOneStatement(ctx context.Context, rec Entity, now time.Time) error {
	// GORM writes the record's INSERT as it always would (columns, values,
	// RETURNING "id"); its $n bind variables become ? again so that the
	// whole statement can be bound once more below, in order.
	dry := s.DB.WithContext(ctx).Session(&gorm.Session{DryRun: true}).Omit("id").Create(rec)
	if dry.Error != nil {
		return fmt.Errorf("create %s: %w", typeName(rec), dry.Error)
	}
	e, err := newHistoryEntry(ctx, rec, "create", nil, rec)
	if err != nil {
		return err
	}
	insert := pgPlaceholder.ReplaceAllString(dry.Statement.SQL.String(), "?")
	vars := append(dry.Statement.Vars,
		e.ObjectType, e.ObjectRepr, e.Action, e.ActorID, e.ActorName, e.Source, e.Changes, e.Version, e.CreatedAt, e.UpdatedAt)
	var id int64
	err = s.DB.WithContext(ctx).Raw(`WITH rec AS (`+insert+`)
INSERT INTO history (object_type, object_id, object_repr, action, actor_id, actor_name, source, changes, version, created_at, updated_at)
SELECT ?, rec.id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM rec RETURNING object_id`, vars...).Scan(&id).Error
	if err != nil {
		// GORM's raw path returns the driver's error untranslated.
		if t, ok := s.DB.Dialector.(gorm.ErrorTranslator); ok {
			err = t.Translate(err)
		}
		return translate(err, rec, "create "+typeName(rec))
	}
	rec.setMeta(id, 1, now, now)
	return nil
}
