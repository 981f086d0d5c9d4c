package models

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
)

// A keyset cursor names the last row of a page by its sort value and id,
// so that the next page is "the rows after it" (WHERE (col, id) > (v, id)
// in the list's order) and costs what the first page costs however deep
// it is; OFFSET walks every row before the page. Clients get it as the
// opaque next_after of a page and send it back as after.

// Keyset is a decoded cursor: the sort it belongs to, and the last row's
// sort value and id.
type Keyset struct {
	Sort  string
	Value any // nil when sorting by id
	ID    int64
}

type cursorJSON struct {
	Sort  string          `json:"s"`
	Value json.RawMessage `json:"v,omitempty"`
	ID    int64           `json:"id"`
}

// cursorField is the struct field of T that a sort key names, found by its
// JSON name (which is also the column).
func cursorField(t reflect.Type, col string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == col {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// sortOf is the effective sort of a list (its default when empty).
func (s ListSpec) sortOf(sort string) string {
	if sort == "" || s.CheckSort(sort) != nil {
		return s.DefaultSort
	}
	return sort
}

// NextAfter is the cursor of the row after which the next page starts.
func NextAfter[T any](spec ListSpec, sort string, last *T) string {
	sort = spec.sortOf(sort)
	col := strings.TrimPrefix(sort, "-")
	rv := reflect.ValueOf(last).Elem()
	c := cursorJSON{Sort: sort}
	if f, ok := cursorField(rv.Type(), "id"); ok {
		c.ID = rv.FieldByIndex(f.Index).Int()
	}
	if col != "id" {
		if f, ok := cursorField(rv.Type(), col); ok {
			v := rv.FieldByIndex(f.Index).Interface()
			if m, ok := v.(Money); ok {
				v = m.CentsValue()
			}
			c.Value, _ = json.Marshal(v)
		}
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseAfter decodes a cursor for a list of T sorted by sort; a cursor
// that is malformed or belongs to another sort is a ValidationError on
// "after".
func ParseAfter[T any](spec ListSpec, sort, raw string) (*Keyset, error) {
	bad := FieldError("after", "is not a cursor of this list and sort (use the next_after of the previous page)")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(raw) > 512 {
		return nil, bad
	}
	var c cursorJSON
	if err := json.Unmarshal(b, &c); err != nil || c.Sort != spec.sortOf(sort) || c.ID < 0 {
		return nil, bad
	}
	k := &Keyset{Sort: c.Sort, ID: c.ID}
	col := strings.TrimPrefix(c.Sort, "-")
	if col == "id" {
		return k, nil
	}
	f, ok := cursorField(reflect.TypeFor[T](), col)
	if !ok {
		return nil, bad
	}
	switch f.Type {
	case reflect.TypeFor[Money]():
		var cents int64
		if json.Unmarshal(c.Value, &cents) != nil {
			return nil, bad
		}
		k.Value = Cents(cents)
	case reflect.TypeFor[time.Time]():
		var t time.Time
		if json.Unmarshal(c.Value, &t) != nil {
			return nil, bad
		}
		k.Value = t
	default:
		ptr := reflect.New(f.Type)
		if json.Unmarshal(c.Value, ptr.Interface()) != nil {
			return nil, bad
		}
		k.Value = ptr.Elem().Interface()
		if s, ok := k.Value.(string); ok && TextProblem(s) != "" {
			return nil, bad
		}
	}
	return k, nil
}

// after narrows db to the rows after k in the order of its sort (the same
// direction for the column and the id, as ListSpec.OrderBy sorts them).
func (k *Keyset) after(db *gorm.DB) *gorm.DB {
	col, op := strings.TrimPrefix(k.Sort, "-"), ">"
	if strings.HasPrefix(k.Sort, "-") {
		op = "<"
	}
	if col == "id" {
		return db.Where("id "+op+" ?", k.ID)
	}
	// col is whitelisted (the cursor's sort was checked against it).
	return db.Where(fmt.Sprintf("(%s %s ? OR (%s = ? AND id %s ?))", col, op, col, op), k.Value, k.Value, k.ID)
}
