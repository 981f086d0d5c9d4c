package admin

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/models"
)

// ExportOptions tune the CSV export; zero values take the defaults.
type ExportOptions struct {
	// PageSize is how many rows one statement reads (500).
	PageSize int
	// WriteTimeout drops a client that takes no bytes for this long (30 s).
	WriteTimeout time.Duration
	// Connections is how many export statements may run at once, across
	// every export of the site (2): however many exports run, and however
	// fast their clients read, they never take more connections than this
	// from the pool.
	Connections int
}

const (
	// exportTimeout bounds one CSV export; the stream outlives the
	// handler, so it cannot use the request's context.
	exportTimeout      = 10 * time.Minute
	exportPageSize     = 500
	exportWriteTimeout = 30 * time.Second
	exportConnections  = 2
	// exportQueryTimeout bounds the statement of one page.
	exportQueryTimeout = 30 * time.Second
	// exportPageBytes ends a page early when its rows are large (documents),
	// so a page in memory stays about this size.
	exportPageBytes = 1 << 20
	// exportChunk is how much is handed to the client per write deadline.
	exportChunk = 32 << 10
)

// export streams the current filtered, searched and sorted list as CSV. It
// reads the rows in keyset pages (the list's order, id breaking ties), one
// statement per page, each row scanned and encoded on its own, and holds
// no database connection while it writes a page to the client: a client
// that reads slowly, or not at all, never keeps a connection from the
// pool, and at most Connections pages are read at once, so many fast
// clients cannot take the pool either. A client that takes no bytes for
// WriteTimeout is disconnected.
func (m *model[T, PT]) export(c *fiber.Ctx) error {
	if err := m.allow(c, "view"); err != nil {
		return err
	}
	st := m.parseState(c)
	scope, _ := m.scope(st)
	opts := m.site.CSV
	if opts.PageSize <= 0 {
		opts.PageSize = exportPageSize
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = exportWriteTimeout
	}
	m.site.exportOnce.Do(func() {
		m.site.exportSlots = make(chan struct{}, cmp.Or(max(opts.Connections, 0), exportConnections))
	})
	ex := &exporter[T, PT]{m: m, scope: scope, q: st.q, order: m.spec.OrderBy(m.sortSpec(st.o)),
		keys: m.keysetFor(st.o), pageSize: opts.PageSize, slots: m.site.exportSlots}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), exportTimeout)
	// The first page is read here so that a failure is still an error
	// page; the others are read by the stream writer after the handler.
	buf := &bytes.Buffer{}
	if err := ex.header(buf); err != nil {
		cancel()
		return err
	}
	more, err := ex.page(ctx, buf)
	if err != nil {
		cancel()
		return fmt.Errorf("export %s: %w", m.plural, err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.csv"`, m.slug, time.Now().UTC().Format("20060102-150405")))
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The write deadline set on the connection below would outlive the
	// response on a kept-alive connection (the server sets none of its own:
	// WriteTimeout is 0 for streams), so the connection ends with it.
	c.Context().SetConnectionClose()
	out := &deadlineWriter{conn: c.Context().Conn(), timeout: opts.WriteTimeout}
	log := slog.Default()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		out.w = w
		for {
			if err := out.write(buf.Bytes()); err != nil {
				return // the client went away, or stopped reading
			}
			if !more {
				return
			}
			buf.Reset()
			if more, err = ex.page(ctx, buf); err != nil {
				log.Error("csv export: page", "model", m.slug, "err", err)
				return
			}
		}
	})
	return nil
}

// exporter reads one export's pages; cur is where the next page starts.
type exporter[T any, PT interface {
	*T
	models.Entity
}] struct {
	m        *model[T, PT]
	scope    func(*gorm.DB) *gorm.DB
	q        string
	order    string
	keys     keyset
	pageSize int
	slots    chan struct{}
	cur      cursor
	record   []string
}

func (ex *exporter[T, PT]) header(buf *bytes.Buffer) error {
	cw := csv.NewWriter(buf)
	if err := cw.Write(ex.m.order); err != nil {
		return fmt.Errorf("export %s: %w", ex.m.plural, err)
	}
	cw.Flush()
	return cw.Error()
}

// page encodes the rows after cur into buf, at most pageSize of them (or
// about exportPageBytes), and moves cur to the last one. more is false
// once the list is exhausted. The statement's connection is back in the
// pool when page returns.
func (ex *exporter[T, PT]) page(ctx context.Context, buf *bytes.Buffer) (more bool, err error) {
	m := ex.m
	qctx, cancel := context.WithTimeout(ctx, exportQueryTimeout)
	defer cancel()
	select {
	case ex.slots <- struct{}{}:
		defer func() { <-ex.slots }()
	case <-qctx.Done():
		return false, fmt.Errorf("waiting for an export slot: %w", qctx.Err())
	}
	q := m.spec.Search(ex.scope(m.site.db.WithContext(qctx).Model(new(T))), ex.q)
	rows, err := ex.keys.after(q, ex.cur).Order(ex.order).Limit(ex.pageSize).Rows()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cw := csv.NewWriter(buf)
	if ex.record == nil {
		ex.record = make([]string, len(m.order))
	}
	n := 0
	for rows.Next() {
		var rec T
		if err := m.site.db.ScanRows(rows, &rec); err != nil {
			return false, fmt.Errorf("scan: %w", err)
		}
		rv := reflect.ValueOf(&rec).Elem()
		next := ex.keys.cursorOf(PT(&rec).GetID(), rv)
		if n == 0 && ex.cur.started && next.id == ex.cur.id {
			// The page starts where the last one ended: a key that does not
			// compare as stored would repeat the export forever.
			return false, errors.New("keyset made no progress")
		}
		ex.cur = next
		for i, name := range m.order {
			f := m.fields[name]
			ex.record[i] = SafeCell(formValue(f, rv.FieldByIndex(f.Index)))
			if f.Kind == kindBool {
				ex.record[i] = yesNo(rv.FieldByIndex(f.Index).Bool())
			}
		}
		if err := cw.Write(ex.record); err != nil {
			return false, err
		}
		n++
		cw.Flush()
		if buf.Len() >= exportPageBytes {
			return true, cw.Error()
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	cw.Flush()
	return n == ex.pageSize, cw.Error()
}

// keyset is the list's order as a keyset: the sort column (none: by id
// alone) and its direction, id breaking ties in the same direction
// (models.ListSpec.OrderBy).
type keyset struct {
	col      string
	field    *field
	desc     bool
	nullable bool
	// nullsFirst: NULLs sort before every value in this direction (SQLite
	// in ascending order, PostgreSQL in descending).
	nullsFirst bool
}

// cursor is the last row exported: its id and sort key.
type cursor struct {
	started bool
	id      int64
	key     any
	null    bool
}

// keysetFor mirrors the list's choice of order for the o parameter.
func (m *model[T, PT]) keysetFor(o string) keyset {
	sort := m.sortSpec(o)
	if sort == "" || m.spec.CheckSort(sort) != nil {
		sort = m.spec.DefaultSort
	}
	ks := keyset{desc: strings.HasPrefix(sort, "-")}
	col := strings.TrimPrefix(sort, "-")
	if col == "id" || col == "" {
		return ks
	}
	for _, f := range m.fields {
		if f.Column == col {
			ks.col, ks.field = col, f
		}
	}
	if ks.field == nil {
		return keyset{desc: ks.desc} // not a field of ours: cannot happen (registration checks)
	}
	ks.nullable = ks.field.Type.Kind() == reflect.Pointer
	ks.nullsFirst = ks.desc == (models.Dialect(m.site.db) == models.Postgres)
	return ks
}

// cursorOf is the cursor at a row.
func (k keyset) cursorOf(id int64, rv reflect.Value) cursor {
	cur := cursor{started: true, id: id}
	if k.field == nil {
		return cur
	}
	v := rv.FieldByIndex(k.field.Index)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			cur.null = true
			return cur
		}
		v = v.Elem()
	}
	cur.key = v.Interface()
	return cur
}

// after narrows q to the rows that come after cur in the keyset's order.
// Only whitelisted column names reach SQL; values are bound.
func (k keyset) after(q *gorm.DB, cur cursor) *gorm.DB {
	if !cur.started {
		return q
	}
	lt, le := ">", ">="
	if k.desc {
		lt, le = "<", "<="
	}
	if k.col == "" {
		return q.Where("(id "+lt+" ?)", cur.id)
	}
	c := k.col
	if cur.null {
		if k.nullsFirst {
			return q.Where("(("+c+" IS NULL AND id "+lt+" ?) OR "+c+" IS NOT NULL)", cur.id)
		}
		return q.Where("("+c+" IS NULL AND id "+lt+" ?)", cur.id)
	}
	cond := "(" + c + " " + le + " ? AND (" + c + " " + lt + " ? OR id " + lt + " ?))"
	if k.nullable && !k.nullsFirst {
		cond = "(" + cond + " OR " + c + " IS NULL)"
	}
	return q.Where(cond, cur.key, cur.key, cur.id)
}

// deadlineWriter writes to the client in chunks, each with a write
// deadline on the connection: the stream writer's own writes land in
// fasthttp's pipe (a few buffers), and the deadline ends the server's
// blocked write to a client that stopped reading, which closes the pipe.
type deadlineWriter struct {
	w       *bufio.Writer
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) write(p []byte) error {
	for len(p) > 0 {
		n := min(len(p), exportChunk)
		if d.conn != nil {
			_ = d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
		}
		if _, err := d.w.Write(p[:n]); err != nil {
			return err
		}
		if err := d.w.Flush(); err != nil {
			return err
		}
		p = p[n:]
	}
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
