package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
	"gorm.io/gorm"
)

// Page sizes of lists, and the time a list's count may take.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// DefaultCountBudget bounds the COUNT behind a list's total: a count
	// that finishes within it is exact, one that does not is cut off and
	// the total is estimated instead (flagged total_is_estimate). What it
	// covers on a million products, and the estimate's error beyond it, is
	// in docs/benchmarks.md.
	DefaultCountBudget = 50 * time.Millisecond
)

// ListSpec says what a list of one model may be sorted and searched by.
// Names are JSON names (which are also the columns).
type ListSpec struct {
	Table        string
	Sortable     []string
	SearchFields []string
	DefaultSort  string
}

// ListParams is one request for a page.
type ListParams struct {
	Page     int
	PageSize int
	Sort     string // "name" or "-name"; must be in Sortable
	Q        string
	// Scope adds filters (bound values only); Filtered says whether it
	// narrows the list (SQLite counts an unfiltered list in one COUNT(*),
	// and estimates it from the highest id if even that is late).
	Scope    func(*gorm.DB) *gorm.DB
	Filtered bool
	// CountBudget is how long counting the total may take (0:
	// DefaultCountBudget); past it the total is an estimate.
	CountBudget time.Duration
	// After, when set, asks for the page after that row (a keyset cursor,
	// ParseAfter) instead of page Page: deep pages cost what the first
	// one costs. The page's number is then unknown (Page 0).
	After *Keyset
	// Deprecated: totals are no longer capped and CountCap is ignored;
	// CountBudget bounds the count's time instead.
	CountCap int
}

// Page is one page of a list, in the API's JSON shape.
type Page[T any] struct {
	Items           []T   `json:"items"`
	Total           int64 `json:"total"`
	TotalIsEstimate bool  `json:"total_is_estimate,omitempty"`
	Page            int   `json:"page"`
	PageSize        int   `json:"page_size"`
	HasNext         bool  `json:"has_next"`
	// NextAfter is the cursor of the next page (send it as after), when
	// there is one.
	NextAfter string `json:"next_after,omitempty"`
}

// CheckSort validates a sort key against the whitelist; "" means default.
func (s ListSpec) CheckSort(sort string) error {
	if sort == "" {
		return nil
	}
	if !slices.Contains(s.Sortable, strings.TrimPrefix(sort, "-")) {
		return FieldError("sort", "must be one of: "+strings.Join(s.Sortable, ", ")+" (prefix - for descending)")
	}
	return nil
}

// OrderBy returns the ORDER BY clause for sort, with id as the tie-breaker
// so that pages are stable. Only whitelisted names reach SQL.
func (s ListSpec) OrderBy(sort string) string {
	if s.CheckSort(sort) != nil || sort == "" {
		sort = s.DefaultSort
	}
	col, dir := strings.TrimPrefix(sort, "-"), "ASC"
	if strings.HasPrefix(sort, "-") {
		dir = "DESC"
	}
	if col == "id" {
		return "id " + dir
	}
	return col + " " + dir + ", id " + dir
}

// Search adds the q condition, with Django's meaning: q is split into
// words at whitespace, and every word must occur in at least one of the
// search fields, case and accents folded alike on both databases
// (search_fold, see search.go). Words are bound values and their LIKE
// wildcards are escaped, so user text is only text. A q that no database
// may see (NUL bytes, invalid UTF-8, too long) makes the query fail with a
// *ValidationError on field "q" before it runs.
func (s ListSpec) Search(db *gorm.DB, q string) *gorm.DB {
	words, err := SearchWords(q)
	if err != nil {
		_ = db.AddError(err)
		return db
	}
	if len(s.SearchFields) == 0 {
		return db
	}
	for _, w := range words {
		conds := make([]string, len(s.SearchFields))
		args := make([]any, len(s.SearchFields))
		for i, f := range s.SearchFields {
			conds[i] = "search_fold(" + f + ") LIKE " + foldedPattern + ` ESCAPE '\'`
			args[i] = w
		}
		db = db.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	return db
}

// List returns one page of T. Its total is exact whenever counting takes
// no longer than p.CountBudget; otherwise it is an estimate, flagged, that
// never contradicts what the pages show: it is at least the rows given so
// far (one more when there is a next page), and an empty page past the end
// answers the count as page 1 would, at most the rows before it.
func List[T any](ctx context.Context, db *gorm.DB, spec ListSpec, p ListParams) (Page[T], error) {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PageSize < 1 {
		p.PageSize = DefaultPageSize
	}
	if p.PageSize > MaxPageSize {
		p.PageSize = MaxPageSize
	}
	// A bad q is the client's mistake: refuse it before any statement.
	words, err := SearchWords(p.Q)
	if err != nil {
		return Page[T]{}, err
	}
	base := func(tx *gorm.DB) *gorm.DB {
		q := tx.Table(spec.Table)
		if p.Scope != nil {
			q = p.Scope(q)
		}
		return spec.Search(q, p.Q)
	}
	budget := p.CountBudget
	if budget <= 0 {
		budget = DefaultCountBudget
	}
	offset := (p.Page - 1) * p.PageSize
	out := Page[T]{Page: p.Page, PageSize: p.PageSize}
	if p.After != nil {
		offset, out.Page = 0, 0
	}
	readPage := func(tx *gorm.DB) error {
		items := make([]T, 0, p.PageSize+1)
		q := base(tx)
		if p.After != nil {
			q = p.After.after(q)
		}
		if err := q.Order(spec.OrderBy(p.Sort)).Offset(offset).Limit(p.PageSize + 1).Find(&items).Error; err != nil {
			return fmt.Errorf("list %s: %w", spec.Table, err)
		}
		if len(items) > p.PageSize {
			out.HasNext = true
			items = items[:p.PageSize]
			out.NextAfter = NextAfter(spec, p.Sort, &items[len(items)-1])
		}
		out.Items = items
		return nil
	}
	// The page itself tells the total when it holds the last row (or the
	// first page is empty); otherwise the rows are counted. A page asked
	// by cursor does not know the rows before it, so it always counts.
	mustCount := func() bool { return p.After != nil || out.HasNext || (len(out.Items) == 0 && p.Page > 1) }
	var total int64
	var estimate bool
	if Dialect(db) == Postgres {
		var done bool
		total, done, err = listPostgres(ctx, db, spec.Table, len(words) > 0, budget, readPage, mustCount, base)
		if err == nil && !done {
			if total, err = explainRows(base(db.WithContext(ctx))); err != nil {
				err = fmt.Errorf("estimate %s: %w", spec.Table, err)
			}
			estimate = true
		}
	} else if err = readPage(db.WithContext(ctx)); err == nil && mustCount() {
		total, estimate, err = countSQLite(ctx, db, spec.Table, base, p.Filtered || len(words) > 0, budget)
	}
	if err != nil {
		return Page[T]{}, err
	}
	given := int64(offset + len(out.Items))
	if !mustCount() {
		out.Total = given
		return out, nil
	}
	// The count is a second statement (and an estimate a guess): neither
	// may contradict the page just read. A page with rows proves the rows
	// up to it (and one more if there is a next page); an empty page
	// proves that no row reaches it.
	switch {
	case out.HasNext:
		total = max(total, given+1)
	case p.After != nil:
		total = max(total, given) // the rows before the cursor are not known
	default:
		total = min(total, int64(offset))
	}
	out.Total, out.TotalIsEstimate = total, estimate
	return out, nil
}

// listPostgres reads the page and, when mustCount says so, counts the rows
// under a statement timeout of budget (done is false when it cut the count
// off). A search runs both in one transaction planned with its words
// (plan_cache_mode = force_custom_plan): a prepared statement's generic
// plan knows no pattern, and the one PostgreSQL switched to after five
// two-word searches sent "lampara de" through a bitmap of 100,000 rows
// (2 s on a million products; models/SEARCH_NOTES.md). SET LOCAL keeps
// both settings to the transaction, so pooled connections stay as they were.
func listPostgres(ctx context.Context, db *gorm.DB, table string, search bool, budget time.Duration,
	readPage func(*gorm.DB) error, mustCount func() bool, base func(*gorm.DB) *gorm.DB,
) (n int64, done bool, err error) {
	if !search {
		if err := readPage(db.WithContext(ctx)); err != nil || !mustCount() {
			return 0, true, err
		}
	}
	ms := max(1, (budget+time.Millisecond-1)/time.Millisecond) // 0 would mean no timeout
	counting := false
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if search {
			if err := tx.Exec("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)").Error; err != nil {
				return fmt.Errorf("search plans: %w", err)
			}
			if err := readPage(tx); err != nil || !mustCount() {
				return err
			}
		}
		if err := setStatementBudget(tx, ms); err != nil {
			return err
		}
		counting = true
		if err := base(tx).Count(&n).Error; err != nil {
			return fmt.Errorf("count %s: %w", table, err)
		}
		return nil
	})
	if counting && budgetCutOff(ctx, err) {
		return 0, false, nil
	}
	return n, true, err
}

// setStatementBudget bounds the transaction's next statements to ms
// milliseconds (SET LOCAL: the pooled connection keeps its own setting).
func setStatementBudget(tx *gorm.DB, ms time.Duration) error {
	if err := tx.Exec("SELECT set_config('statement_timeout', ?, true)", strconv.FormatInt(int64(ms), 10)).Error; err != nil {
		return fmt.Errorf("count budget: %w", err)
	}
	return nil
}

// budgetCutOff reports whether err is query_canceled while the caller still
// waits: our statement_timeout (a server-wide one would also end the page).
func budgetCutOff(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014" && ctx.Err() == nil
}

// countSQLite counts the rows of base within budget; past it, it answers an
// estimate (estimate true).
func countSQLite(ctx context.Context, db *gorm.DB, table string, base func(*gorm.DB) *gorm.DB, narrowed bool, budget time.Duration) (n int64, estimate bool, err error) {
	if narrowed {
		return countSQLiteByRanges(ctx, db, table, base, budget)
	}
	// The whole table: COUNT(*) reads only the b-tree, and the highest id
	// is a fair estimate if even that is late.
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	err = base(db.WithContext(cctx)).Count(&n).Error
	if err == nil {
		return n, false, nil
	}
	if !budgetSpent(ctx, cctx, err) {
		return 0, false, fmt.Errorf("count %s: %w", table, err)
	}
	n, err = maxID(ctx, db, table)
	return n, true, err
}

// countSQLiteByRanges counts a narrowed list over growing id ranges, all
// under one deadline: exact when every range is counted in time, otherwise
// the matches per id of the ranges counted, times the highest id. (SQLite
// has no planner estimate of a filter; the prefix of the table it did
// count is the honest evidence.)
func countSQLiteByRanges(ctx context.Context, db *gorm.DB, table string, base func(*gorm.DB) *gorm.DB, budget time.Duration) (int64, bool, error) {
	counted, done, top, err := countByRanges(ctx, db, table, base, budget, 1, func(q *gorm.DB) ([]int64, error) {
		var n int64
		err := q.Count(&n).Error
		return []int64{n}, err
	})
	switch {
	case err != nil:
		return 0, false, err
	case done >= top:
		return counted[0], false, nil
	case done == 0:
		return 0, true, nil // nothing to go on: List answers the rows given
	}
	return extrapolate(counted[0], done, top), true, nil
}

// countByRanges runs count (one number per column it selects) over growing
// id ranges of base, all under one deadline of budget: counted holds the
// width sums over the ids in (0, done], and done reaches top (the highest
// id) when every range was counted in time.
func countByRanges(ctx context.Context, db *gorm.DB, table string, base func(*gorm.DB) *gorm.DB, budget time.Duration, width int,
	count func(*gorm.DB) ([]int64, error),
) (counted []int64, done, top int64, err error) {
	top, err = maxID(ctx, db, table)
	if err != nil {
		return nil, 0, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	counted = make([]int64, width)
	for size := int64(4096); done < top; size *= 2 {
		hi := min(done+size, top)
		n, err := count(base(db.WithContext(cctx)).Where(table+".id > ? AND "+table+".id <= ?", done, hi))
		if err != nil {
			if budgetSpent(ctx, cctx, err) {
				break
			}
			return nil, 0, 0, fmt.Errorf("count %s: %w", table, err)
		}
		for i := range min(len(n), width) {
			counted[i] += n[i]
		}
		done = hi
	}
	return counted, done, top, nil
}

// extrapolate scales the matches among the first done ids to top ids.
func extrapolate(counted, done, top int64) int64 {
	return int64(math.Round(float64(counted) / float64(done) * float64(top)))
}

// budgetSpent reports whether err is the count budget's deadline at work
// (rather than the caller's context or a real failure).
func budgetSpent(ctx, cctx context.Context, err error) bool {
	return ctx.Err() == nil && cctx.Err() != nil &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sqlite3.INTERRUPT))
}

// maxID is the highest id of table (0 when empty).
func maxID(ctx context.Context, db *gorm.DB, table string) (int64, error) {
	var n int64
	if err := db.WithContext(ctx).Raw("SELECT COALESCE(MAX(id), 0) FROM " + table).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("highest id of %s: %w", table, err)
	}
	return n, nil
}

// explainRows reads PostgreSQL's estimate of how many rows q returns,
// from EXPLAIN (the query is planned, not run): on a table without filters
// it is the table's size in pg_class, scaled to its current pages.
func explainRows(q *gorm.DB) (int64, error) {
	var probe []int
	stmt := q.Session(&gorm.Session{DryRun: true}).Select("1").Find(&probe).Statement
	var plan string
	db := q.Session(&gorm.Session{NewDB: true})
	if err := db.Raw("EXPLAIN (FORMAT JSON) "+stmt.SQL.String(), stmt.Vars...).Row().Scan(&plan); err != nil {
		return 0, fmt.Errorf("explain: %w", err)
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &out); err != nil || len(out) == 0 {
		return 0, fmt.Errorf("explain: unexpected plan %q", plan)
	}
	return int64(out[0].Plan.Rows), nil
}
