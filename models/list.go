package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// Page sizes of lists.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// CountCap bounds the exact count of a list: past it the total is an
	// estimate (flagged total_is_estimate), so a list page never pays for
	// counting a big table. Measured on 10,000 products (docs/benchmarks.md),
	// a cap of 10,000 spent more on the count than on the page itself.
	CountCap = 1_000
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
	// narrows the list (an unfiltered list can use the table's statistics).
	Scope    func(*gorm.DB) *gorm.DB
	Filtered bool
	// CountCap overrides the package's CountCap for this list (0: CountCap):
	// a page that must stay fast on a filtered huge table counts less far.
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

// List returns one page of T. The total is exact up to CountCap rows and
// estimated beyond (TotalIsEstimate), so deep tables stay fast.
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
	base := func() *gorm.DB {
		q := db.WithContext(ctx).Table(spec.Table)
		if p.Scope != nil {
			q = p.Scope(q)
		}
		return spec.Search(q, p.Q)
	}
	items := make([]T, 0, p.PageSize+1)
	err := base().Order(spec.OrderBy(p.Sort)).Offset((p.Page - 1) * p.PageSize).Limit(p.PageSize + 1).Find(&items).Error
	if err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", spec.Table, err)
	}
	out := Page[T]{Page: p.Page, PageSize: p.PageSize}
	if len(items) > p.PageSize {
		out.HasNext = true
		items = items[:p.PageSize]
	}
	out.Items = items
	// The page itself often tells the total without counting.
	if !out.HasNext && (len(items) > 0 || p.Page == 1) {
		out.Total = int64((p.Page-1)*p.PageSize + len(items))
		return out, nil
	}
	total, estimate, err := countCapped(base(), spec, p)
	if err != nil {
		return Page[T]{}, err
	}
	out.Total, out.TotalIsEstimate = total, estimate
	return out, nil
}

func countCapped(q *gorm.DB, spec ListSpec, p ListParams) (int64, bool, error) {
	limit := int64(CountCap)
	if p.CountCap > 0 {
		limit = int64(p.CountCap)
	}
	narrowed := p.Filtered || strings.TrimSpace(p.Q) != ""
	// On PostgreSQL a large result is not counted at all: even a capped
	// count of a common search term builds the whole bitmap of candidate
	// rows, which costs hundreds of milliseconds on a million products.
	// The planner's estimate answers in a fraction of a millisecond.
	if Dialect(q) == Postgres {
		var est int64
		var ok bool
		if narrowed {
			est, ok = explainRows(q)
		} else {
			est, ok = estimateRows(q, spec.Table)
		}
		if ok && est > limit {
			return max(est, p.minTotal()), true, nil
		}
	}
	var n int64
	sub := q.Select("1").Limit(int(limit) + 1)
	if err := q.Session(&gorm.Session{NewDB: true}).Table("(?) AS capped", sub).Count(&n).Error; err != nil {
		return 0, false, fmt.Errorf("count %s: %w", spec.Table, err)
	}
	if n <= limit {
		return n, false, nil
	}
	if !narrowed {
		if est, ok := estimateRows(q, spec.Table); ok && est > limit {
			return est, true, nil
		}
	}
	return limit, true, nil
}

// minTotal is the least total consistent with a full page that has a next one.
func (p ListParams) minTotal() int64 { return int64(p.Page*p.PageSize) + 1 }

// explainRows reads PostgreSQL's estimate of how many rows q returns,
// from EXPLAIN (the query is planned, not run).
func explainRows(q *gorm.DB) (int64, bool) {
	var probe []int
	stmt := q.Session(&gorm.Session{DryRun: true}).Select("1").Find(&probe).Statement
	var plan string
	db := q.Session(&gorm.Session{NewDB: true})
	if err := db.Raw("EXPLAIN (FORMAT JSON) "+stmt.SQL.String(), stmt.Vars...).Row().Scan(&plan); err != nil {
		return 0, false
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &out); err != nil || len(out) == 0 || out[0].Plan.Rows <= 0 {
		return 0, false
	}
	return int64(out[0].Plan.Rows), true
}

// estimateRows reads the planner's row estimate (PostgreSQL) or the highest
// id (SQLite): cheap, and close enough for "about N results".
func estimateRows(q *gorm.DB, table string) (int64, bool) {
	db := q.Session(&gorm.Session{NewDB: true})
	var est float64
	var err error
	if Dialect(db) == Postgres {
		err = db.Raw("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", table).Scan(&est).Error
	} else {
		err = db.Raw("SELECT COALESCE(MAX(id), 0) FROM " + table).Scan(&est).Error
	}
	if err != nil || est <= 0 {
		return 0, false
	}
	return int64(est), true
}
