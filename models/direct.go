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
// transaction to one statement. Concurrent reads and creates share
// statements (batch.go). All are derived from GORM's own schema of the
// model, so there is no second list of columns to keep in step.

// directModel marks models the store may read and create without GORM's
// callbacks. A model opts in only while no callback hooks it: the indexer
// hooks documents' creation and loading, tracing is served by Store.Span.
type directModel interface{ noGORMCallbacks() }

func (s *Store) direct(e Entity) bool {
	_, ok := e.(directModel)
	return ok && s.Dialect() == Postgres
}

// directRead is a model's read-by-id statements and the fields they fill.
type directRead struct {
	one    string // WHERE id = $1
	many   string // WHERE id = ANY($1)
	fields []*schema.Field
	pk     int // the primary key's index in fields
}

func (s *Store) readPlan(dst Entity) (*directRead, error) {
	t := reflect.TypeOf(dst)
	if p, ok := s.plans.Load(t); ok {
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
	plan := &directRead{pk: -1}
	cols := make([]string, 0, len(stmt.Schema.Fields))
	for _, f := range stmt.Schema.Fields {
		if f.DBName == "" || !f.Readable {
			continue
		}
		if f == pk {
			plan.pk = len(plan.fields)
		}
		cols = append(cols, stmt.Quote(f.DBName))
		plan.fields = append(plan.fields, f)
	}
	if plan.pk < 0 {
		return nil, fmt.Errorf("schema of %s: primary key not readable", typeName(dst))
	}
	from := "SELECT " + strings.Join(cols, ", ") + " FROM " + stmt.Quote(stmt.Schema.Table) + " WHERE " + stmt.Quote(pk.DBName)
	plan.one, plan.many = from+" = $1", from+" = ANY($1)"
	s.plans.Store(t, plan)
	return plan, nil
}

// dests points at the fields of rec that plan's columns fill.
func (plan *directRead) dests(ctx context.Context, rec Entity) []any {
	rv := reflect.ValueOf(rec).Elem()
	dests := make([]any, len(plan.fields))
	for i, f := range plan.fields {
		dests[i] = f.ReflectValueOf(ctx, rv).Addr().Interface()
	}
	return dests
}

// readReq is one read by id waiting for its batch.
type readReq struct {
	waiter
	dst Entity
	id  int64
}

// getDirect loads the record with id into dst, in a statement it may share
// with other reads of the same model (batch.go).
func (s *Store) getDirect(ctx context.Context, dst Entity, id int64) (err error) {
	ctx, end := s.span(ctx)
	defer func() { end(err) }()
	req := &readReq{waiter: newWaiter(ctx), dst: dst, id: id}
	queueOf[*readReq](&s.reads, reflect.TypeOf(dst)).add(req, s.readBatch)
	return <-req.done
}

// readBatch answers every request of batch: one alone with the prepared
// read of one row, several with one statement for all their ids.
func (s *Store) readBatch(batch []*readReq) {
	live := stillWaiting(batch)
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- s.readOne(live[0].ctx, live[0].dst, live[0].id)
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	errs := s.readMany(ctx, live)
	for i, r := range live {
		r.done <- errs[i]
	}
}

// readOne loads the record with id into dst with one prepared statement.
func (s *Store) readOne(ctx context.Context, dst Entity, id int64) error {
	plan, db, err := s.readPlanAndDB(dst)
	if err != nil {
		return err
	}
	begin := time.Now()
	err = db.QueryRowContext(ctx, plan.one, id).Scan(plan.dests(ctx, dst)...)
	if errors.Is(err, sql.ErrNoRows) {
		s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.one, 0 }, gorm.ErrRecordNotFound)
		return ErrNotFound
	}
	s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.one, 1 }, err)
	if err != nil {
		return fmt.Errorf("get %s %d: %w", typeName(dst), id, err)
	}
	return nil
}

// readMany loads the records of reqs (all of one model) with one statement
// and returns each request's answer.
func (s *Store) readMany(ctx context.Context, reqs []*readReq) []error {
	errs := make([]error, len(reqs))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = fmt.Errorf("get %s %d: %w", typeName(reqs[i].dst), reqs[i].id, err)
		}
		return errs
	}
	plan, db, err := s.readPlanAndDB(reqs[0].dst)
	if err != nil {
		return fail(err)
	}
	ids := make([]int64, len(reqs))
	for i, r := range reqs {
		ids[i] = r.id
	}
	begin := time.Now()
	rows, err := db.QueryContext(ctx, plan.many, ids)
	if err != nil {
		s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.many, 0 }, err)
		return fail(err)
	}
	defer rows.Close()
	found := make(map[int64]Entity, len(reqs))
	for rows.Next() {
		rec := newLike(reqs[0].dst)
		if err := rows.Scan(plan.dests(ctx, rec)...); err != nil {
			return fail(err)
		}
		found[plan.fields[plan.pk].ReflectValueOf(ctx, reflect.ValueOf(rec).Elem()).Int()] = rec
	}
	err = rows.Err()
	s.DB.Logger.Trace(ctx, begin, func() (string, int64) { return plan.many, int64(len(found)) }, err)
	if err != nil {
		return fail(err)
	}
	for i, r := range reqs {
		rec, ok := found[r.id]
		if !ok {
			errs[i] = ErrNotFound
			continue
		}
		reflect.ValueOf(r.dst).Elem().Set(reflect.ValueOf(rec).Elem())
	}
	return errs
}

func (s *Store) readPlanAndDB(dst Entity) (*directRead, *sql.DB, error) {
	plan, err := s.readPlan(dst)
	if err != nil {
		return nil, nil, err
	}
	db, err := s.DB.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", typeName(dst), err)
	}
	return plan, db, nil
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
