package models

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
)

// oneStatementCreate marks a model whose create, on PostgreSQL, is one
// statement (the record's INSERT ... RETURNING as a CTE that feeds its
// history row's INSERT) instead of a transaction of four round trips
// (faster one caller at a time: BenchmarkStore, docs/benchmarks.md).
// The statement still goes through GORM (Raw, so the row and raw
// callbacks, the logger and error translation see it), but GORM's create
// callbacks and the model's Before/AfterCreate hooks do not run. A model
// opts in here, beside its definition, only while nothing hooks its
// creation: GORM's callbacks are registered per database, not per model,
// and cannot be listed, so the store cannot check this itself. Documents
// must never opt in (the indexer hooks their creates, app/chat).
type oneStatementCreate interface{ oneStatementCreate() }

// createInOneStatement inserts rec and its history entry in one statement,
// atomic on its own. GORM's own ConvertToCreateValues gives the columns
// and values of both rows (as Create would write them, Money as NUMERIC),
// so there is no second list of columns to keep in step with the models.
func (s *Store) createInOneStatement(ctx context.Context, rec Entity, now time.Time) error {
	what := "create " + typeName(rec)
	entry, err := newHistoryEntry(ctx, rec, "create", nil, rec)
	if err != nil {
		return err
	}
	db := s.DB.WithContext(ctx)
	recTable, recValues, pk, err := createValues(db, rec)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	histTable, histValues, _, err := createValues(db, &entry)
	if err != nil {
		return fmt.Errorf("%s: history: %w", what, err)
	}
	// The history row's object_id is the id the record's INSERT returns.
	linked := false
	for i, c := range histValues.Columns {
		if c.Name == "object_id" {
			histValues.Values[0][i] = clause.Expr{SQL: "(SELECT ? FROM rec)", Vars: []any{pk}}
			linked = true
		}
	}
	if !linked {
		return fmt.Errorf("%s: history has no object_id column", what)
	}
	var id int64
	// Table names the statement for the row callbacks (tracing's db.sql.table).
	res := db.Table(recTable.Name).Raw("WITH rec AS (INSERT INTO ? ? RETURNING ?) INSERT INTO ? ? RETURNING object_id",
		recTable, recValues, pk, histTable, histValues).Scan(&id)
	if err := res.Error; err != nil {
		// GORM translates driver errors in AddError; its row callback sets
		// the query's error directly, so this one is translated here.
		if t, ok := s.DB.Dialector.(gorm.ErrorTranslator); ok {
			err = t.Translate(err)
		}
		return translate(err, rec, what)
	}
	if res.RowsAffected != 1 || id == 0 {
		return fmt.Errorf("%s: the statement returned %d rows", what, res.RowsAffected)
	}
	rec.setMeta(id, 1, now, now)
	return nil
}

// createValues is the table, the columns and values (primary key left
// out) and the primary key column that GORM's Create would write for rec.
func createValues(db *gorm.DB, rec any) (clause.Table, clause.Values, clause.Column, error) {
	tx := db.Model(rec) // a statement of its own, with db's context
	stmt := tx.Statement
	if err := stmt.Parse(rec); err != nil {
		return clause.Table{}, clause.Values{}, clause.Column{}, err
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil {
		return clause.Table{}, clause.Values{}, clause.Column{}, fmt.Errorf("%s has no primary key", stmt.Schema.Name)
	}
	stmt.Dest = rec
	stmt.ReflectValue = reflect.Indirect(reflect.ValueOf(rec))
	stmt.Omits = append(stmt.Omits, pk.DBName)
	values := callbacks.ConvertToCreateValues(stmt)
	if tx.Error != nil {
		return clause.Table{}, clause.Values{}, clause.Column{}, tx.Error
	}
	if len(values.Values) != 1 {
		return clause.Table{}, clause.Values{}, clause.Column{}, fmt.Errorf("%s: %d rows to insert, want 1", stmt.Schema.Name, len(values.Values))
	}
	return clause.Table{Name: stmt.Schema.Table}, values, clause.Column{Name: pk.DBName}, nil
}
