package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// exportTimeout bounds one CSV export; the stream outlives the handler, so
// it cannot use the request's context.
const exportTimeout = 10 * time.Minute

// export streams the current filtered, searched and sorted list as CSV,
// one row at a time (constant memory, whatever the table's size).
func (m *model[T, PT]) export(c *fiber.Ctx) error {
	if err := m.allow(c, "view"); err != nil {
		return err
	}
	st := m.parseState(c)
	scope, _ := m.scope(st)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), exportTimeout)
	q := m.site.db.WithContext(ctx).Model(new(T))
	q = m.spec.Search(scope(q), st.q).Order(m.spec.OrderBy(m.sortSpec(st.o)))
	// The query starts here so that a failure is still an error page; the
	// rows are read by the stream writer after the handler has returned.
	rows, err := q.Rows()
	if err != nil {
		cancel()
		return fmt.Errorf("export %s: %w", m.plural, err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.csv"`, m.slug, time.Now().UTC().Format("20060102-150405")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	db := m.site.db
	names := m.order
	fields := m.fields
	log := slog.Default()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer rows.Close()
		cw := csv.NewWriter(w)
		if err := cw.Write(names); err != nil {
			return
		}
		record := make([]string, len(names))
		for n := 0; rows.Next(); n++ {
			var rec T
			if err := db.ScanRows(rows, &rec); err != nil {
				log.Error("csv export: scan", "err", err)
				return
			}
			rv := reflect.ValueOf(&rec).Elem()
			for i, name := range names {
				f := fields[name]
				record[i] = SafeCell(formValue(f, rv.FieldByIndex(f.Index)))
				if f.Kind == kindBool {
					record[i] = yesNo(rv.FieldByIndex(f.Index).Bool())
				}
			}
			if err := cw.Write(record); err != nil {
				return // the client went away
			}
			if n%500 == 499 {
				cw.Flush()
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
		if err := rows.Err(); err != nil {
			log.Error("csv export: rows", "err", err)
		}
		cw.Flush()
		_ = w.Flush()
	})
	return nil
}

// SafeCell defuses spreadsheet formulas: a cell starting with = + - @ (or
// a tab or carriage return, which some spreadsheets skip) is prefixed with
// a single quote so that it is shown as text, never evaluated. Plain
// negative numbers are left alone.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + s
	case '-':
		if isNumber(s[1:]) {
			return s
		}
		return "'" + s
	}
	return s
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	return strings.Trim(s, "0123456789.") == ""
}
