package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// UnknownCount is a choice's count when SQLite had no time to count any of
// the rows (CountChoices): there is nothing to estimate from.
const UnknownCount int64 = -1

// CountChoices counts how many rows of the list p (its search and Scope;
// page and sort do not matter) each of choices would leave: the numbers
// beside a sidebar filter's choices (Django's facets). All of them come
// from one statement, COUNT(*) FILTER (WHERE choice) per choice, so a
// filter costs one count whatever its number of choices. The count is the
// list total's (countByRanges, listPostgres' statement budget): exact
// within p.CountBudget, past it estimated, flagged: PostgreSQL's planner
// estimate of each choice (EXPLAIN, nothing run), or on SQLite the id
// ranges counted in time, extrapolated (UnknownCount when none was).
func CountChoices(ctx context.Context, db *gorm.DB, spec ListSpec, p ListParams, choices []func(*gorm.DB) *gorm.DB) (counts []int64, estimate bool, err error) {
	words, err := SearchWords(p.Q)
	if err != nil || len(choices) == 0 {
		return nil, false, err
	}
	base := func(tx *gorm.DB) *gorm.DB {
		q := tx.Table(spec.Table)
		if p.Scope != nil {
			q = p.Scope(q)
		}
		return spec.Search(q, p.Q)
	}
	cols := make([]string, len(choices))
	conds := make([]any, len(choices))
	for i, ch := range choices {
		w, err := whereOf(db, spec.Table, ch)
		if err != nil {
			return nil, false, err
		}
		cols[i], conds[i] = "COUNT(*) FILTER (WHERE ?)", w
	}
	sel := strings.Join(cols, ", ")
	count := func(q *gorm.DB) ([]int64, error) {
		out := make([]int64, len(choices))
		dst := make([]any, len(out))
		for i := range out {
			dst[i] = &out[i]
		}
		if err := ScanRow(q.Select(sel, conds...), dst...); err != nil {
			return nil, fmt.Errorf("count choices of %s: %w", spec.Table, err)
		}
		return out, nil
	}
	budget := p.CountBudget
	if budget <= 0 {
		budget = DefaultCountBudget
	}
	if Dialect(db) != Postgres {
		counted, done, top, err := countByRanges(ctx, db, spec.Table, base, budget, len(choices), count)
		if err != nil || done >= top {
			return counted, false, err
		}
		for i := range counted {
			if done == 0 {
				counted[i] = UnknownCount
			} else {
				counted[i] = extrapolate(counted[i], done, top)
			}
		}
		return counted, true, nil
	}
	ms := max(1, (budget+time.Millisecond-1)/time.Millisecond)
	counting := false
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(words) > 0 { // planned with the words, as listPostgres does
			if err := tx.Exec("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)").Error; err != nil {
				return fmt.Errorf("search plans: %w", err)
			}
		}
		if err := setStatementBudget(tx, ms); err != nil {
			return err
		}
		counting = true
		counts, err = count(base(tx))
		return err
	})
	if !counting || !budgetCutOff(ctx, err) {
		return counts, false, err
	}
	counts = make([]int64, len(choices))
	for i, ch := range choices {
		if counts[i], err = explainRows(ch(base(db.WithContext(ctx)))); err != nil {
			return nil, false, fmt.Errorf("estimate choices of %s: %w", spec.Table, err)
		}
	}
	return counts, true, nil
}

// whereOf is the condition a choice's scope adds, as an expression to
// bind into another statement (its values stay bound).
func whereOf(db *gorm.DB, table string, scope func(*gorm.DB) *gorm.DB) (clause.Expression, error) {
	stmt := scope(db.Session(&gorm.Session{NewDB: true}).Table(table)).Statement
	c, ok := stmt.Clauses["WHERE"]
	w, isWhere := c.Expression.(clause.Where)
	if !ok || !isWhere || len(w.Exprs) == 0 {
		return nil, errors.New("count choices: a choice's scope must narrow the list with Where")
	}
	return conditions(w), nil
}

// conditions builds a WHERE clause's conditions without the keyword (a
// clause.Where given as a value would write "WHERE").
type conditions clause.Where

func (c conditions) Build(b clause.Builder) { clause.Where(c).Build(b) }

// ScanRow runs q and scans its one row into dest. Unlike gorm's Row, a
// query that failed before it ran (an error added while building it) is
// an error, not a nil *sql.Row.
func ScanRow(q *gorm.DB, dest ...any) error {
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}
