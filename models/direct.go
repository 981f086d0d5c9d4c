package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
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

// historyColumns are the history table's columns that a create fills, in
// the order of createReq.historyRow.
const historyColumns = "object_type, object_repr, action, actor_id, actor_name, source, changes, version, created_at, updated_at"

// historyTypes casts the bind variables of one history row: in a VALUES
// list PostgreSQL cannot infer them from the target columns.
var historyTypes = []string{"text", "text", "text", "bigint", "text", "text", "text", "bigint", "timestamptz", "timestamptz"}

func (r *createReq) historyRow() []any {
	e := &r.entry
	return []any{e.ObjectType, e.ObjectRepr, e.Action, e.ActorID, e.ActorName, e.Source, e.Changes, e.Version, e.CreatedAt, e.UpdatedAt}
}

// insertWithHistory inserts the records of reqs (all of one model) and
// their history entries in one PostgreSQL statement, atomic on its own:
// the records' multi-row INSERT is a CTE that feeds the history INSERT.
// It replaces a transaction of four round trips per record (BEGIN, two
// INSERTs, COMMIT). On success each record has its id.
func (s *Store) insertWithHistory(ctx context.Context, reqs []*createReq) (err error) {
	db, err := s.DB.DB()
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	query, args, err := s.insertStatement(ctx, reqs)
	if err != nil {
		return err
	}
	begin := time.Now()
	ids := make([]int64, 0, len(reqs))
	rows, err := db.QueryContext(ctx, query, args...)
	if err == nil {
		for rows.Next() {
			var id int64
			if err = rows.Scan(&id); err != nil {
				break
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return query, int64(len(ids)) }, err)
	if err == nil && len(ids) != len(reqs) {
		err = fmt.Errorf("inserted %d records, expected %d", len(ids), len(reqs))
	}
	rec := reqs[0].rec
	if err != nil {
		if t, ok := s.DB.Dialector.(gorm.ErrorTranslator); ok {
			err = t.Translate(err)
		}
		return translate(err, rec, "create "+typeName(rec))
	}
	// An identity column takes its values in the order the VALUES list
	// produces the rows, so the i-th smallest id is the i-th record.
	slices.Sort(ids)
	for i, r := range reqs {
		r.rec.setMeta(ids[i], 1, r.now, r.now)
	}
	return nil
}

// insertStatement writes the statement of insertWithHistory with its
// $n bind variables. GORM writes the records' INSERT as it always would
// (columns, values, RETURNING "id"); each history row is numbered by its
// record's position, which row_number() over the new ids gives back.
func (s *Store) insertStatement(ctx context.Context, reqs []*createReq) (string, []any, error) {
	rec := reqs[0].rec
	recs := reflect.New(reflect.SliceOf(reflect.TypeOf(rec).Elem()))
	recs.Elem().Set(reflect.MakeSlice(recs.Elem().Type(), len(reqs), len(reqs)))
	for i, r := range reqs {
		recs.Elem().Index(i).Set(reflect.ValueOf(r.rec).Elem())
	}
	dry := s.DB.WithContext(ctx).Session(&gorm.Session{DryRun: true}).Omit("id").Create(recs.Interface())
	if dry.Error != nil {
		return "", nil, fmt.Errorf("create %s: %w", typeName(rec), dry.Error)
	}
	args := slices.Clip(dry.Statement.Vars)
	var b strings.Builder
	b.WriteString("WITH rec AS (")
	b.WriteString(dry.Statement.SQL.String())
	b.WriteString("), ord AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM rec)\nINSERT INTO history (object_id, ")
	b.WriteString(historyColumns)
	b.WriteString(")\nSELECT ord.id, ")
	b.WriteString(historyColumns)
	b.WriteString(" FROM ord JOIN (VALUES ")
	for i, r := range reqs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + strconv.Itoa(i+1))
		for j, v := range r.historyRow() {
			args = append(args, v)
			b.WriteString(", $" + strconv.Itoa(len(args)) + "::" + historyTypes[j])
		}
		b.WriteString(")")
	}
	b.WriteString(") AS h (n, " + historyColumns + ") USING (n) RETURNING object_id")
	return b.String(), args, nil
}
