package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/models"
	"tienda/views"
)

// model is one registration: T is the model struct, PT its pointer (which
// implements models.Entity).
type model[T any, PT interface {
	*T
	models.Entity
}] struct {
	site      *Site
	opts      Options[T]
	typeName  string // object type for permissions and history: "product"
	table     string
	slug      string
	singular  string
	plural    string
	fields    map[string]*field
	order     []string // field names in struct order
	columns   []string
	sortable  []string
	readOnly  []string
	fieldsets []Fieldset
	perPage   int
	spec      models.ListSpec
}

func (m *model[T, PT]) info() ModelInfo {
	return ModelInfo{Slug: m.slug, Singular: m.singular, Plural: m.plural, ObjectType: m.typeName, URL: m.listURL(),
		Count: func(ctx context.Context) (int64, bool, error) {
			p, err := models.List[T](ctx, m.site.db, m.spec, models.ListParams{Page: 1, PageSize: 1})
			if err != nil {
				return 0, false, err
			}
			return p.Total, p.TotalIsEstimate, nil
		}}
}

func (m *model[T, PT]) listURL() string { return m.site.Base + "/" + m.slug }
func (m *model[T, PT]) objectURL(id int64) string {
	return m.listURL() + "/" + strconv.FormatInt(id, 10)
}

// allow applies the one permission rule (models.Permission) to the
// signed-in user; a refusal names the missing permission.
func (m *model[T, PT]) allow(c *fiber.Ctx, action string) error {
	return models.Require(m.site.hooks.User(c), action, m.typeName)
}

func (m *model[T, PT]) can(c *fiber.Ctx, action string) bool {
	return models.Permission(m.site.hooks.User(c), action, m.typeName)
}

// actor tags the request's writes with the signed-in user, for the history.
func (m *model[T, PT]) actor(c *fiber.Ctx) context.Context {
	u := m.site.hooks.User(c)
	return models.WithActor(c.UserContext(), models.Actor{UserID: u.ID, Username: u.Username, Source: models.SourceAdmin})
}

func (m *model[T, PT]) crumbs(extra ...views.Crumb) []views.Crumb {
	out := []views.Crumb{{Label: "Home", URL: m.site.Base + "/"}, {Label: capitalize(m.plural), URL: m.listURL()}}
	return append(out, extra...)
}

// ---- list ----

// listState is a list's query string: search, ordering, page and filters.
// Every value is whitelisted or bounded before use.
type listState struct {
	q       string
	o       string
	p       int
	filters map[string]string
}

func (m *model[T, PT]) parseState(c *fiber.Ctx) listState {
	return m.stateFrom(func(k string) string { return c.Query(k) })
}

// stateFrom reads a list state from the query string, or from a form
// (the bulk form carries the list's search and filters).
func (m *model[T, PT]) stateFrom(get func(string) string) listState {
	st := listState{p: 1, filters: map[string]string{}}
	// Bounded and checked (length, NUL, UTF-8) by models.List, whose 422
	// names "q"; cutting it here could split a character.
	st.q = strings.Clone(strings.TrimSpace(get("q")))
	if o := get("o"); slices.Contains(m.sortable, strings.TrimPrefix(o, "-")) {
		st.o = strings.Clone(o)
	}
	if p, err := strconv.Atoi(get("p")); err == nil && p >= 1 && p <= 1_000_000 {
		st.p = p
	}
	for _, f := range m.opts.Filters {
		v := get(f.Name)
		for _, ch := range f.Choices {
			if ch.Value == v {
				st.filters[f.Name] = ch.Value
			}
		}
	}
	return st
}

func (st listState) values() url.Values {
	v := url.Values{}
	if st.q != "" {
		v.Set("q", st.q)
	}
	if st.o != "" {
		v.Set("o", st.o)
	}
	if st.p > 1 {
		v.Set("p", strconv.Itoa(st.p))
	}
	for k, val := range st.filters {
		v.Set(k, val)
	}
	return v
}

func (st listState) with(edit func(*listState)) listState {
	n := st
	n.filters = make(map[string]string, len(st.filters))
	for k, v := range st.filters {
		n.filters[k] = v
	}
	edit(&n)
	return n
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

func (m *model[T, PT]) scope(st listState) (func(*gorm.DB) *gorm.DB, bool) {
	return m.scopeExcept(st, "")
}

// scopeExcept is the scope of the active filters but the one named skip
// (a filter's counts are what its choices would show with the others).
func (m *model[T, PT]) scopeExcept(st listState, skip string) (func(*gorm.DB) *gorm.DB, bool) {
	var scopes []func(*gorm.DB) *gorm.DB
	for _, f := range m.opts.Filters {
		if f.Name == skip {
			continue
		}
		for _, ch := range f.Choices {
			if st.filters[f.Name] == ch.Value {
				scopes = append(scopes, ch.Scope)
			}
		}
	}
	return func(db *gorm.DB) *gorm.DB {
		for _, s := range scopes {
			db = s(db)
		}
		return db
	}, len(scopes) > 0
}

// sortSpec turns the whitelisted json name into its column.
func (m *model[T, PT]) sortSpec(o string) string {
	if o == "" {
		return ""
	}
	return sortColumn(m, o)
}

func (m *model[T, PT]) list(c *fiber.Ctx) error {
	if err := m.allow(c, "view"); err != nil {
		return err
	}
	st := m.parseState(c)
	scope, filtered := m.scope(st)
	page, err := models.List[T](c.UserContext(), m.site.db, m.spec, models.ListParams{
		Page: st.p, PageSize: m.perPage, Sort: m.sortSpec(st.o), Q: st.q, Scope: scope, Filtered: filtered,
		CountBudget: m.site.CountBudget,
	})
	if err != nil {
		return err
	}
	// A page past the end (a stale link, the last page emptied by a bulk
	// delete) goes to the last page there is.
	if len(page.Items) == 0 && st.p > 1 {
		last := max(1, int(math.Ceil(float64(page.Total)/float64(m.perPage))))
		if last >= st.p {
			last = st.p - 1
		}
		target := withQuery(m.listURL(), st.with(func(s *listState) { s.p = last }).values())
		if c.Get("HX-Request") == "true" {
			c.Set("HX-Location", target)
			return c.SendStatus(fiber.StatusNoContent)
		}
		return c.Redirect(target, fiber.StatusSeeOther)
	}
	vm := views.ListView{
		Plural: m.plural, Singular: m.singular, Q: st.q, Searchable: len(m.spec.SearchFields) > 0,
		AddURL: m.listURL() + "/new", BulkURL: m.listURL() + "/bulk", ListURL: m.listURL(), ClearURL: m.listURL(),
		ExportURL: withQuery(m.listURL()+"/export.csv", st.with(func(s *listState) { s.p = 1 }).values()),
		CanAdd:    m.can(c, "add"), CanDelete: m.can(c, "delete"), Filtered: filtered || st.q != "",
		Back: withQuery(m.listURL(), st.values()),
	}
	var labels []string
	for _, n := range m.opts.SearchFields {
		labels = append(labels, strings.ToLower(m.fields[n].Label))
	}
	vm.SearchLabel = "Search " + m.plural + " by " + strings.Join(labels, " or ")
	if st.o != "" {
		vm.Hidden = append(vm.Hidden, views.Hidden{Name: "o", Value: st.o})
	}
	for _, f := range m.opts.Filters {
		if v, ok := st.filters[f.Name]; ok {
			vm.Hidden = append(vm.Hidden, views.Hidden{Name: f.Name, Value: v})
		}
	}
	current := st.o
	if current == "" && len(m.opts.Ordering) > 0 {
		current = m.opts.Ordering[0]
	}
	for _, n := range m.columns {
		f := m.fields[n]
		col := views.Column{Label: f.Label, Numeric: f.Kind == kindInt || f.Kind == kindMoney}
		if f.Kind == kindMoney && m.site.Currency != "" {
			col.Label += " (" + m.site.Currency + ")"
		}
		if slices.Contains(m.sortable, n) {
			next := n
			switch current {
			case n:
				col.Sorted, col.ARIASort, next = "asc", "ascending", "-"+n
			case "-" + n:
				col.Sorted, col.ARIASort = "desc", "descending"
			}
			col.SortURL = withQuery(m.listURL(), st.with(func(s *listState) { s.o, s.p = next, 1 }).values())
		}
		vm.Columns = append(vm.Columns, col)
	}
	for i := range page.Items {
		rec := PT(&page.Items[i])
		rv := reflect.ValueOf(rec).Elem()
		row := views.Row{ID: strconv.FormatInt(rec.GetID(), 10), URL: m.objectURL(rec.GetID()), Repr: rec.String()}
		for _, n := range m.columns {
			f := m.fields[n]
			cell := views.Cell{Text: displayValue(f, rv.FieldByIndex(f.Index)), Numeric: f.Kind == kindInt || f.Kind == kindMoney}
			if f.Kind == kindMoney && m.site.Currency != "" {
				cell.Text = FormatMoney(cell.Text, m.site.Currency)
			}
			if f.Kind == kindBool {
				cell.Bool = cell.Text
			}
			if m.opts.Badge != nil {
				cell.Badge = m.opts.Badge(&page.Items[i], n)
			}
			row.Cells = append(row.Cells, cell)
		}
		vm.Rows = append(vm.Rows, row)
	}
	for _, f := range m.opts.Filters {
		g := views.FilterGroup{Title: f.Title}
		_, any := st.filters[f.Name]
		g.Choices = append(g.Choices, views.FilterChoice{Label: "All", Active: !any,
			URL: withQuery(m.listURL(), st.with(func(s *listState) { delete(s.filters, f.Name); s.p = 1 }).values())})
		counts, estimate, err := m.choiceCounts(c.UserContext(), st, f)
		if err != nil {
			return err
		}
		for i, ch := range f.Choices {
			fc := views.FilterChoice{Label: ch.Label, Active: st.filters[f.Name] == ch.Value,
				URL: withQuery(m.listURL(), st.with(func(s *listState) { s.filters[f.Name] = ch.Value; s.p = 1 }).values())}
			fc.Count, fc.CountTitle = countLabel(counts[i], estimate)
			g.Choices = append(g.Choices, fc)
		}
		vm.Filters = append(vm.Filters, g)
	}
	vm.Pagination = m.pagination(st, page)
	// More rows match than this page shows: offer Django's "Select all N"
	// for the bulk action (it carries the search and filters, not ids).
	if vm.CanDelete && (page.HasNext || st.p > 1) {
		vm.SelectAcross = &views.SelectAcross{Total: vm.Pagination.Total, Count: vm.Pagination.Count, OnPage: len(vm.Rows)}
		vm.SelectAcross.Hidden = stateHidden(st)
	}
	vm.Page = m.site.hooks.Page(c, capitalize(m.plural), m.crumbs()[:1]...)
	vm.Page.Crumbs = append(vm.Page.Crumbs, views.Crumb{Label: capitalize(m.plural)})
	c.Vary("HX-Request")
	comp := views.ListPage(vm)
	if c.Get("HX-Request") == "true" && c.Get("HX-Target") == views.ChangelistFragment {
		// htmx swaps only the list: render just that fragment.
		comp = templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
			return templ.RenderFragments(ctx, w, views.ListPage(vm), views.ChangelistFragment)
		})
	}
	return m.site.hooks.Render(c, fiber.StatusOK, comp)
}

// choiceCounts are how many rows each choice of f would list: the current
// search and the other filters, one statement for all of f's choices,
// exact within the site's count budget and estimated past it, like the
// list's total (models.CountChoices).
func (m *model[T, PT]) choiceCounts(ctx context.Context, st listState, f Filter) ([]int64, bool, error) {
	scope, filtered := m.scopeExcept(st, f.Name)
	scopes := make([]func(*gorm.DB) *gorm.DB, len(f.Choices))
	for i, ch := range f.Choices {
		scopes[i] = ch.Scope
	}
	counts, estimate, err := models.CountChoices(ctx, m.site.db, m.spec, models.ListParams{
		Q: st.q, Scope: scope, Filtered: filtered, CountBudget: m.site.CountBudget,
	}, scopes)
	if err != nil {
		return nil, false, fmt.Errorf("count %s by %s: %w", m.plural, f.Name, err)
	}
	return counts, estimate, nil
}

// countLabel is a choice's count as shown ("1,204", "≈1.2k") and, for an
// estimate, the title that says so.
func countLabel(n int64, estimate bool) (label, title string) {
	switch {
	case n == models.UnknownCount:
		return "?", "Not counted: counting took longer than its time budget."
	case !estimate:
		return groupDigits(n), ""
	}
	title = "About " + groupDigits(n) + ": an estimate, because counting exactly took longer than its time budget."
	switch {
	case n < 1000:
		return "≈" + strconv.FormatInt(n, 10), title
	case n < 999_950: // rounds below "1000k"
		return "≈" + short(float64(n)/1e3) + "k", title
	}
	return "≈" + short(float64(n)/1e6) + "M", title
}

// short writes x with one decimal, without a trailing ".0".
func short(x float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(x, 'f', 1, 64), ".0")
}

// stateHidden are a list state's search and filters as hidden inputs (the
// bulk form's "select all" carries them instead of ids).
func stateHidden(st listState) []views.Hidden {
	var out []views.Hidden
	if st.q != "" {
		out = append(out, views.Hidden{Name: "q", Value: st.q})
	}
	for _, k := range slices.Sorted(maps.Keys(st.filters)) {
		out = append(out, views.Hidden{Name: k, Value: st.filters[k]})
	}
	return out
}

func (m *model[T, PT]) pagination(st listState, page models.Page[T]) views.Pagination {
	pg := views.Pagination{Page: st.p, PerPage: m.perPage, Total: groupDigits(page.Total), Count: int(min(page.Total, 1<<30))}
	// Totals are exact unless counting took longer than its budget
	// (models.List); then the planner's estimate is shown as one.
	if page.TotalIsEstimate {
		pg.Total = "about " + pg.Total
	}
	if len(page.Items) > 0 {
		pg.ShowingLow = (st.p-1)*m.perPage + 1
		pg.ShowingHi = pg.ShowingLow + len(page.Items) - 1
	}
	link := func(n int) string {
		return withQuery(m.listURL(), st.with(func(s *listState) { s.p = n }).values())
	}
	if st.p > 1 {
		pg.PrevURL = link(st.p - 1)
	}
	if page.HasNext {
		pg.NextURL = link(st.p + 1)
	}
	last := st.p
	if page.HasNext {
		last = st.p + 1
	}
	if !page.TotalIsEstimate {
		last = max(1, int(math.Ceil(float64(page.Total)/float64(m.perPage))))
	}
	if last <= 1 {
		return pg
	}
	prev := 0
	for n := 1; n <= last; n++ {
		if n == 1 || n == last || (n >= st.p-2 && n <= st.p+2) {
			if prev != 0 && n > prev+1 {
				pg.Links = append(pg.Links, views.PageLink{}) // ellipsis
			}
			pg.Links = append(pg.Links, views.PageLink{Number: n, URL: link(n), Current: n == st.p})
			prev = n
		}
	}
	return pg
}

// ---- forms ----

// formValues are what a form shows: the user's raw input, or a record's
// values formatted for inputs.
type formValues map[string]string

func (m *model[T, PT]) editable(name string) bool {
	return !slices.Contains(m.readOnly, name)
}

// editableBy: editable, and by this user (SuperuserOnly fields).
func (m *model[T, PT]) editableBy(c *fiber.Ctx, name string) bool {
	if !m.editable(name) {
		return false
	}
	if slices.Contains(m.opts.SuperuserOnly, name) {
		u := m.site.hooks.User(c)
		return u != nil && u.IsSuperuser
	}
	return true
}

func (m *model[T, PT]) valuesOf(rec PT) formValues {
	rv := reflect.ValueOf(rec).Elem()
	out := formValues{}
	for _, n := range m.order {
		f := m.fields[n]
		out[n] = formValue(f, rv.FieldByIndex(f.Index))
	}
	return out
}

func (m *model[T, PT]) formView(c *fiber.Ctx, rec PT, isNew bool, vals formValues, errs map[string]string) views.FormView {
	vm := views.FormView{Singular: m.singular, IsNew: isNew, ListURL: m.listURL(), CanDelete: !isNew && m.can(c, "delete"),
		MaxBytes: m.site.MaxBody}
	canSave := m.can(c, "add")
	if !isNew {
		canSave = m.can(c, "change")
	}
	if !canSave {
		vm.ReadOnly = true
		vm.ReadOnlyWhy = "You may view this " + m.singular + "; changing it needs the " + models.Codename("change", m.typeName) + " permission."
	}
	title := "Add " + m.singular
	if isNew {
		vm.Action = m.listURL() + "/new"
	} else {
		vm.Action = m.objectURL(rec.GetID())
		vm.Version = strconv.FormatInt(rec.GetVersion(), 10)
		vm.DeleteURL = vm.Action + "/delete"
		vm.HistoryURL = vm.Action + "/history"
		vm.ObjectRepr = rec.String()
		title = "Change " + m.singular
		if m.opts.Details != nil {
			vm.Details = m.opts.Details((*T)(rec))
		}
	}
	for i, fs := range m.fieldsets {
		out := views.Fieldset{Title: fs.Title}
		for _, n := range fs.Fields {
			if isNew && !m.editable(n) {
				continue // nothing to show before the object exists
			}
			fv := m.fieldView(m.fields[n], vals[n], errs[n], isNew, canSave && m.editableBy(c, n))
			if m.fields[n].Kind == kindMulti {
				if err := m.multiView(c, &fv, vals[n]); err != nil {
					fv.Widget, fv.Value, fv.Error = views.WidgetReadOnly, vals[n], "choices could not be loaded"
				}
			}
			out.Fields = append(out.Fields, fv)
		}
		for _, e := range m.opts.Extra {
			if canSave && (e.Fieldset == fs.Title || (e.Fieldset == "" && i == len(m.fieldsets)-1)) {
				w := orDefault(e.Widget, views.WidgetText)
				fv := views.Field{Name: e.Name, Label: e.Label, Help: e.Help, Widget: w, Error: errs[e.Name]}
				if w == views.WidgetPassword {
					fv.Autocomplete = "new-password"
				} else {
					fv.Value = vals[e.Name]
				}
				out.Fields = append(out.Fields, fv)
			}
		}
		if len(out.Fields) > 0 {
			vm.Fieldsets = append(vm.Fieldsets, out)
		}
	}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range errs {
			if !yield(k) {
				return
			}
		}
	}) {
		label := n
		if f := m.fields[n]; f != nil {
			label = f.Label
		}
		for _, e := range m.opts.Extra {
			if e.Name == n {
				label = e.Label
			}
		}
		vm.Errors = append(vm.Errors, label+" "+errs[n]+".")
	}
	crumb := views.Crumb{Label: title}
	if !isNew {
		crumb.Label = rec.String()
	}
	vm.Page = m.site.hooks.Page(c, title, m.crumbs(crumb)...)
	return vm
}

// multiView fills a Multi field's checkboxes (or, read-only, the labels
// of its values).
func (m *model[T, PT]) multiView(c *fiber.Ctx, fv *views.Field, val string) error {
	groups, err := m.opts.Multi[fv.Name](c.UserContext())
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, v := range splitSet(val) {
		held[v] = true
	}
	if fv.Widget == views.WidgetReadOnly {
		var labels []string
		for _, g := range groups {
			for _, o := range g.Options {
				if held[o.Value] {
					labels = append(labels, o.Label)
				}
			}
		}
		fv.Value = strings.Join(labels, ", ")
		if fv.Value == "" {
			fv.Value = "—"
		}
		return nil
	}
	fv.Widget = views.WidgetCheckboxes
	for _, g := range groups {
		og := views.OptionGroup{Title: g.Title}
		for _, o := range g.Options {
			og.Options = append(og.Options, views.Option{Value: o.Value, Label: o.Label, Checked: held[o.Value]})
		}
		fv.Groups = append(fv.Groups, og)
	}
	return nil
}

// fieldView derives the input and its HTML attributes from the field's
// validate rules (the server validates again, with the same rules).
func (m *model[T, PT]) fieldView(f *field, val, errMsg string, isNew, editable bool) views.Field {
	fv := views.Field{Name: f.Name, Label: f.Label, Value: val, Error: errMsg}
	if !editable {
		fv.Widget = views.WidgetReadOnly
		switch {
		case isNew && !m.editable(f.Name):
			fv.Value = "—"
		case f.Kind == kindBool:
			fv.Value = yesNo(val == "on")
		}
		return fv
	}
	numeric := false
	switch f.Kind {
	case kindText:
		fv.Widget = views.WidgetTextarea
	case kindInt:
		fv.Widget, fv.Step, numeric = views.WidgetNumber, "1", true
	case kindMoney:
		fv.Widget, fv.Step, numeric = views.WidgetNumber, "0.01", true
		if m.site.Currency != "" {
			fv.Label += " (" + m.site.Currency + ")"
		}
	case kindBool:
		fv.Widget, fv.Checked, fv.Value = views.WidgetCheckbox, val == "on", ""
	default:
		fv.Widget = views.WidgetText
	}
	for _, r := range f.Rules {
		switch r.Tag {
		case "required":
			fv.Required = f.Kind != kindBool
		case "email":
			fv.Widget = views.WidgetEmail
		case "min", "gte":
			if numeric {
				fv.Min = r.Param
			} else if n, err := strconv.Atoi(r.Param); err == nil && n > 1 {
				fv.MinLength = n
			}
		case "max", "lte":
			if numeric {
				fv.Max = r.Param
			} else if n, err := strconv.Atoi(r.Param); err == nil {
				fv.MaxLength = n
			}
		}
	}
	return fv
}

// formInput is the form's value of a field: one string, or a set's
// values joined (setValue splits them again).
func formInput(c *fiber.Ctx, f *field) string {
	if f.Kind != kindMulti {
		return strings.Clone(c.FormValue(f.Name))
	}
	var vals []string
	for _, v := range c.Request().PostArgs().PeekMulti(f.Name) {
		vals = append(vals, string(v))
	}
	return joinSet(vals)
}

// bind copies the registered, editable fields from the form into rec (no
// mass assignment: nothing else is read). It returns the raw values (to
// show back) and the parse errors by field. input gives a field's value
// (nil: the form's).
func (m *model[T, PT]) bind(c *fiber.Ctx, rec PT, input func(*field) string) (formValues, map[string]string) {
	if input == nil {
		input = func(f *field) string { return formInput(c, f) }
	}
	rv := reflect.ValueOf(rec).Elem()
	raw := formValues{}
	errs := map[string]string{}
	for _, fs := range m.fieldsets {
		for _, n := range fs.Fields {
			f := m.fields[n]
			if !m.editableBy(c, n) {
				raw[n] = formValue(f, rv.FieldByIndex(f.Index))
				continue
			}
			v := input(f)
			raw[n] = v
			if msg := setValue(f, rv.FieldByIndex(f.Index), v); msg != "" {
				errs[n] = msg
			}
		}
	}
	for _, e := range m.opts.Extra {
		raw[e.Name] = strings.Clone(c.FormValue(e.Name))
	}
	return raw, errs
}

// validate runs BeforeSave and the model's validator, merging messages
// into errs (a parse error of a field wins over its rule message).
func (m *model[T, PT]) validate(ctx context.Context, rec PT, raw formValues, errs map[string]string, creating bool) error {
	if m.opts.BeforeSave != nil {
		extra := map[string]string{}
		for _, e := range m.opts.Extra {
			extra[e.Name] = raw[e.Name]
		}
		if err := m.opts.BeforeSave(ctx, (*T)(rec), extra, creating); err != nil {
			fields, ok := isValidation(err)
			if !ok {
				return err
			}
			for k, v := range fields {
				errs[k] = v
			}
		}
	}
	if err := m.site.store.Validate.Struct(rec); err != nil {
		fields, ok := isValidation(err)
		if !ok {
			return err
		}
		for k, v := range fields {
			if _, had := errs[k]; !had {
				errs[k] = v
			}
		}
	}
	return nil
}

func (m *model[T, PT]) addForm(c *fiber.Ctx) error {
	if err := m.allow(c, "add"); err != nil {
		return err
	}
	rec := m.newRecord(c)
	vals := m.valuesOf(rec)
	for _, n := range m.order {
		if m.fields[n].Kind == kindMoney || m.fields[n].Kind == kindTimePtr {
			vals[n] = ""
		}
	}
	return m.site.hooks.Render(c, fiber.StatusOK, views.FormPage(m.formView(c, rec, true, vals, nil)))
}

// newRecord is a fresh object with the registration's initial values.
func (m *model[T, PT]) newRecord(c *fiber.Ctx) PT {
	if m.opts.New != nil {
		return PT(m.opts.New(c.UserContext()))
	}
	return PT(new(T))
}

func (m *model[T, PT]) create(c *fiber.Ctx) error {
	if err := m.allow(c, "add"); err != nil {
		return err
	}
	rec := m.newRecord(c)
	raw, errs := m.bind(c, rec, nil)
	ctx := m.actor(c)
	if err := m.validate(ctx, rec, raw, errs, true); err != nil {
		return err
	}
	if len(errs) == 0 {
		err := m.site.store.Create(ctx, rec)
		if fields, ok := fieldErrors(err); ok {
			errs = fields
		} else if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return m.site.hooks.Render(c, fiber.StatusUnprocessableEntity, views.FormPage(m.formView(c, rec, true, raw, errs)))
	}
	m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("The %s “%s” was added.", m.singular, rec.String()))
	return c.Redirect(m.afterSave(c, rec), fiber.StatusSeeOther)
}

// afterSave picks the page after a save from the button pressed.
func (m *model[T, PT]) afterSave(c *fiber.Ctx, rec PT) string {
	switch {
	case c.FormValue("_addanother") != "":
		return m.listURL() + "/new"
	case c.FormValue("_continue") != "":
		return m.objectURL(rec.GetID())
	}
	return m.listURL()
}

// fieldErrors turns a validation or uniqueness error into field messages.
func fieldErrors(err error) (map[string]string, bool) {
	if fields, ok := isValidation(err); ok {
		return fields, true
	}
	var ce *models.ConflictError
	if errors.As(err, &ce) {
		return map[string]string{ce.Field: ce.Message}, true
	}
	return nil, false
}

func (m *model[T, PT]) load(c *fiber.Ctx) (PT, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return nil, errNotFound
	}
	rec := PT(new(T))
	if err := m.site.store.Get(c.UserContext(), rec, id); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return nil, errNotFound
		}
		return nil, err
	}
	if err := m.site.store.LoadRelations(c.UserContext(), rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func (m *model[T, PT]) changeForm(c *fiber.Ctx) error {
	if err := m.allow(c, "view"); err != nil {
		return err
	}
	rec, err := m.load(c)
	if err != nil {
		return err
	}
	vals := m.valuesOf(rec)
	vm := m.formView(c, rec, false, vals, nil)
	vm.Originals = m.originals(c, vals)
	return m.site.hooks.Render(c, fiber.StatusOK, views.FormPage(vm))
}

// mergeable are the fields the conflict merge covers: those this user
// may edit on the form.
func (m *model[T, PT]) mergeable(c *fiber.Ctx) []string {
	var out []string
	for _, fs := range m.fieldsets {
		for _, n := range fs.Fields {
			if m.editableBy(c, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// originals are the hidden inputs carrying the values a form shows.
func (m *model[T, PT]) originals(c *fiber.Ctx, vals formValues) []views.Hidden {
	var out []views.Hidden
	for _, n := range m.mergeable(c) {
		out = append(out, views.Hidden{Name: origPrefix + n, Value: vals[n]})
	}
	return out
}

// postedOriginals reads the form's originals back (and which it had).
func (m *model[T, PT]) postedOriginals(c *fiber.Ctx) (formValues, map[string]bool) {
	vals, has := formValues{}, map[string]bool{}
	args := c.Request().PostArgs()
	for _, n := range m.mergeable(c) {
		if args.Has(origPrefix + n) {
			vals[n], has[n] = strings.Clone(c.FormValue(origPrefix+n)), true
		}
	}
	return vals, has
}

// canonical is raw as the form would show it after saving (a price of
// "19.9" is "19.90"), so the merge compares like with like; a value that
// does not parse stays as typed.
func (m *model[T, PT]) canonical(name, raw string) string {
	f := m.fields[name]
	v := reflect.New(f.Type).Elem()
	if setValue(f, v, raw) != "" {
		return raw
	}
	return formValue(f, v)
}

// input is the value the user submitted for f: a conflicting field's
// choice (mine: the value typed before the conflict; theirs: the saved
// one, which the conflict form carries as its original), else the input.
func (m *model[T, PT]) input(c *fiber.Ctx, f *field) (string, string) {
	switch c.FormValue(choicePrefix + f.Name) {
	case chooseMine:
		return strings.Clone(c.FormValue(minePrefix + f.Name)), ""
	case chooseTheirs:
		return strings.Clone(c.FormValue(origPrefix + f.Name)), ""
	}
	if c.Request().PostArgs().Has(minePrefix + f.Name) {
		return strings.Clone(c.FormValue(minePrefix + f.Name)), "must be chosen: keep yours or theirs"
	}
	return formInput(c, f), ""
}

func (m *model[T, PT]) update(c *fiber.Ctx) error {
	if err := m.allow(c, "change"); err != nil {
		return err
	}
	rec, err := m.load(c)
	if errors.Is(err, errNotFound) {
		return m.deletedMeanwhile(c)
	}
	if err != nil {
		return err
	}
	// A missing or tampered version can never match, so it merges
	// instead of overwriting.
	expected, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	unchosen := map[string]string{}
	input := func(f *field) string {
		v, problem := m.input(c, f)
		if problem != "" {
			unchosen[f.Name] = problem
		}
		return v
	}
	if rec.GetVersion() != expected {
		raw, _ := m.bind(c, m.newRecord(c), input)
		return m.conflict(c, raw, rec)
	}
	raw, errs := m.bind(c, rec, input)
	for k, v := range unchosen {
		errs[k] = v
	}
	ctx := m.actor(c)
	if err := m.validate(ctx, rec, raw, errs, false); err != nil {
		return err
	}
	if len(errs) == 0 {
		err := m.site.store.Update(ctx, rec, expected)
		var vc *models.VersionConflictError
		if errors.As(err, &vc) {
			current, ok := vc.Current.(PT)
			if !ok {
				return fmt.Errorf("version conflict on %s holds a %T", m.typeName, vc.Current)
			}
			return m.conflict(c, raw, current)
		}
		if fields, ok := fieldErrors(err); ok {
			errs = fields
		} else if errors.Is(err, models.ErrNotFound) {
			return m.deletedMeanwhile(c)
		} else if err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		vm := m.formView(c, rec, false, raw, errs)
		vm.Version = strconv.FormatInt(expected, 10)
		orig, _ := m.postedOriginals(c)
		vm.Originals = m.originals(c, orig)
		return m.site.hooks.Render(c, fiber.StatusUnprocessableEntity, views.FormPage(vm))
	}
	m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("The %s “%s” was changed.", m.singular, rec.String()))
	return c.Redirect(m.afterSave(c, rec), fiber.StatusSeeOther)
}

// conflict merges the user's form (raw) with the version saved meanwhile
// (current) against the values the form was loaded with, and shows the
// result: merged fields as inputs holding the merged value, fields both
// changed as a choice. The form then carries the current version and, as
// its originals, the saved values.
func (m *model[T, PT]) conflict(c *fiber.Ctx, raw formValues, current PT) error {
	theirs := m.valuesOf(current)
	orig, has := m.postedOriginals(c)
	names := m.mergeable(c)
	mine := formValues{}
	for _, n := range names {
		mine[n] = m.canonical(n, raw[n])
		orig[n] = m.canonical(n, orig[n])
	}
	merged := Merge(names, orig, mine, theirs, func(n string) bool { return has[n] })
	cf := &views.Conflict{Version: strconv.FormatInt(current.GetVersion(), 10)}
	if h, err := m.site.store.History(c.UserContext(), m.typeName, current.GetID(), 1); err == nil && len(h) > 0 {
		cf.By = h[0].ActorName
		cf.At = h[0].CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	vals := m.valuesOf(current)
	choices := map[string]FieldMerge{}
	for _, fm := range merged {
		vals[fm.Name] = fm.Result
		show := func(v string) string { return m.shown(fm.Name, v) }
		row := views.ConflictRow{Label: m.fields[fm.Name].Label, Yours: show(fm.Mine), Theirs: show(fm.Theirs), Differ: true}
		switch fm.Outcome {
		case TookTheirs:
			row.Outcome = "theirs (you had not changed it)"
		case KeptMine:
			row.Outcome = "yours (they had not changed it)"
		case BothSame:
			row.Outcome, row.Differ = "the same change on both sides", false
		case Conflict:
			choices[fm.Name] = fm
			cf.Choices++
			continue
		default:
			continue
		}
		cf.Rows = append(cf.Rows, row)
	}
	vm := m.formView(c, current, false, vals, nil)
	for i := range vm.Fieldsets {
		for j, fv := range vm.Fieldsets[i].Fields {
			fm, ok := choices[fv.Name]
			if !ok {
				continue
			}
			vm.Fieldsets[i].Fields[j] = views.Field{Name: fv.Name, Label: fv.Label, Widget: views.WidgetChoice,
				Mine: m.shown(fv.Name, fm.Mine), Theirs: m.shown(fv.Name, fm.Theirs), MineValue: raw[fv.Name]}
		}
	}
	vm.Conflict = cf
	vm.Version = cf.Version
	vm.Originals = m.originals(c, theirs)
	return m.site.hooks.Render(c, fiber.StatusConflict, views.FormPage(vm))
}

// shown is a form value as the conflict panel shows it.
func (m *model[T, PT]) shown(name, v string) string {
	switch f := m.fields[name]; {
	case f.Kind == kindBool:
		return yesNo(v == "on")
	case v == "":
		return "(empty)"
	}
	return v
}

// deletedMeanwhile answers a save of an object deleted meanwhile: the
// typed values in an add form, with who deleted it and a button to create
// it anew (when the user may add).
func (m *model[T, PT]) deletedMeanwhile(c *fiber.Ctx) error {
	rec := m.newRecord(c)
	raw, _ := m.bind(c, rec, func(f *field) string { v, _ := m.input(c, f); return v })
	vm := m.formView(c, rec, true, raw, nil)
	vm.Deleted = &views.Deleted{}
	if id, err := strconv.ParseInt(c.Params("id"), 10, 64); err == nil {
		if h, err := m.site.store.History(c.UserContext(), m.typeName, id, 1); err == nil && len(h) > 0 && h[0].Action == "delete" {
			vm.Deleted.By, vm.Deleted.At = h[0].ActorName, h[0].CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return m.site.hooks.Render(c, fiber.StatusNotFound, views.FormPage(vm))
}

// ---- delete ----

func (m *model[T, PT]) deleteForm(c *fiber.Ctx) error {
	if err := m.allow(c, "delete"); err != nil {
		return err
	}
	rec, err := m.load(c)
	if err != nil {
		return err
	}
	vm := views.DeleteView{Singular: m.singular, Plural: m.plural, Objects: []string{rec.String()},
		Action: m.objectURL(rec.GetID()) + "/delete", Version: strconv.FormatInt(rec.GetVersion(), 10),
		BackURL: m.objectURL(rec.GetID())}
	vm.Page = m.site.hooks.Page(c, "Delete "+m.singular, m.crumbs(views.Crumb{Label: rec.String(), URL: vm.BackURL}, views.Crumb{Label: "Delete"})...)
	return m.site.hooks.Render(c, fiber.StatusOK, views.DeletePage(vm))
}

func (m *model[T, PT]) remove(c *fiber.Ctx) error {
	if err := m.allow(c, "delete"); err != nil {
		return err
	}
	rec, err := m.load(c)
	if err != nil {
		return err
	}
	expected, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	err = m.site.store.Delete(m.actor(c), PT(new(T)), rec.GetID(), max(expected, 0))
	var vc *models.VersionConflictError
	switch {
	case errors.As(err, &vc):
		m.site.hooks.Flash(c, views.FlashError, fmt.Sprintf("The %s “%s” was changed by someone else since you opened it; it was not deleted. Review it and try again.", m.singular, rec.String()))
		return c.Redirect(m.objectURL(rec.GetID()), fiber.StatusSeeOther)
	case errors.Is(err, models.ErrNotFound):
		return errNotFound
	case err != nil:
		return err
	}
	m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("The %s “%s” was deleted.", m.singular, rec.String()))
	return c.Redirect(m.listURL(), fiber.StatusSeeOther)
}

// maxBulk bounds a bulk action (one page of the largest list, twice).
const maxBulk = 2 * models.MaxPageSize

// bulk runs the "delete selected" action: the first POST shows what will
// go, the confirmed one deletes.
func (m *model[T, PT]) bulk(c *fiber.Ctx) error {
	if err := m.allow(c, "delete"); err != nil {
		return err
	}
	back := m.listURL()
	if b := c.FormValue("back"); strings.HasPrefix(b, m.listURL()) && !strings.ContainsAny(b, "\\\r\n") {
		back = strings.Clone(b)
	}
	if a := c.FormValue("action"); a != "delete" {
		m.site.hooks.Flash(c, views.FlashError, "Choose an action to run on the selected "+m.plural+".")
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	if c.FormValue("select_across") == "1" {
		return m.bulkAcross(c, back)
	}
	var ids []int64
	for _, raw := range c.Request().PostArgs().PeekMulti("ids") {
		if id, err := strconv.ParseInt(string(raw), 10, 64); err == nil && id > 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		m.site.hooks.Flash(c, views.FlashError, "Select at least one "+m.singular+" first.")
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	if len(ids) > maxBulk {
		m.site.hooks.Flash(c, views.FlashError, fmt.Sprintf("Select at most %d %s at once.", maxBulk, m.plural))
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	if c.FormValue("confirm") == "yes" {
		n, err := m.site.store.DeleteMany(m.actor(c), PT(new(T)), ids)
		if err != nil {
			return err
		}
		noun := m.plural
		if n == 1 {
			noun = m.singular
		}
		m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("%d %s %s deleted.", n, noun, map[bool]string{true: "was", false: "were"}[n == 1]))
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	var recs []T
	if err := m.site.db.WithContext(c.UserContext()).Where("id IN ?", ids).Order("id").Find(&recs).Error; err != nil {
		return fmt.Errorf("load %s for bulk delete: %w", m.plural, err)
	}
	vm := views.DeleteView{Singular: m.singular, Plural: m.plural, Action: m.listURL() + "/bulk", BackURL: back, Bulk: true}
	for i := range recs {
		rec := PT(&recs[i])
		vm.Objects = append(vm.Objects, rec.String())
		vm.IDs = append(vm.IDs, strconv.FormatInt(rec.GetID(), 10))
	}
	if len(recs) == 0 {
		m.site.hooks.Flash(c, views.FlashInfo, "The selected "+m.plural+" no longer exist.")
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	vm.Page = m.site.hooks.Page(c, "Delete "+m.plural, m.crumbs(views.Crumb{Label: "Delete selected"})...)
	return m.site.hooks.Render(c, fiber.StatusOK, views.DeletePage(vm))
}

// acrossBatch is how many rows one transaction of a "select all" delete
// takes.
const acrossBatch = 500

// acrossSample is how many of the rows a "select all" confirmation names.
const acrossSample = 20

// bulkAcross runs the delete on every row matching the list's search and
// filters, carried by the form (whitelisted as the list's are), across
// pages. The confirmation counts them exactly and carries that count and
// the highest id among them. On confirm the rule is: the selection is
// evaluated again with the same parameters, bounded by that id (rows added
// since are never included); if its count is not the confirmed one, nothing
// is deleted and the confirmation is shown again with the new count.
// Otherwise the rows go in batches (models.Store.DeleteMatching), each row
// still matching when it is locked, never more than the confirmed count.
func (m *model[T, PT]) bulkAcross(c *fiber.Ctx, back string) error {
	st := m.stateFrom(func(k string) string { return c.FormValue(k) })
	scope, _ := m.scope(st)
	sel := func(db *gorm.DB) *gorm.DB { return m.spec.Search(scope(db), st.q) }
	ctx := c.UserContext()
	var bound int64 = math.MaxInt64
	confirmed, confirmedCount := c.FormValue("confirm") == "yes", int64(-1)
	if confirmed {
		var err1, err2 error
		bound, err1 = strconv.ParseInt(c.FormValue("max_id"), 10, 64)
		confirmedCount, err2 = strconv.ParseInt(c.FormValue("count"), 10, 64)
		if err1 != nil || err2 != nil || bound < 1 || confirmedCount < 1 {
			return fiber.NewError(fiber.StatusBadRequest, "The confirmation is incomplete; select the "+m.plural+" again.")
		}
	}
	var n, top int64
	if _, err := models.SearchWords(st.q); err != nil {
		return err // the list's own 422, naming q
	}
	count := func(bound int64) error {
		q := sel(m.site.db.WithContext(ctx).Model(new(T))).Where("id <= ?", bound).Select("COUNT(*), COALESCE(MAX(id), 0)")
		if err := models.ScanRow(q, &n, &top); err != nil {
			return fmt.Errorf("count %s to delete: %w", m.plural, err)
		}
		return nil
	}
	if err := count(bound); err != nil {
		return err
	}
	if n == 0 {
		m.site.hooks.Flash(c, views.FlashInfo, "No "+m.plural+" match any more; nothing was deleted.")
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	notice := ""
	if confirmed && n == confirmedCount {
		deleted, err := m.site.store.DeleteMatching(m.actor(c), PT(new(T)), sel, bound, int(n), acrossBatch)
		if err != nil {
			return fmt.Errorf("delete all matching %s (%d deleted): %w", m.plural, deleted, err)
		}
		noun := m.plural
		if deleted == 1 {
			noun = m.singular
		}
		m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("%s %s %s deleted.", groupDigits(int64(deleted)), noun, map[bool]string{true: "was", false: "were"}[deleted == 1]))
		return c.Redirect(back, fiber.StatusSeeOther)
	}
	if confirmed {
		// Ask again about what matches now (with its own, new bound).
		notice = fmt.Sprintf("The matching %s changed since you confirmed (%s then, %s now); nothing was deleted yet.",
			m.plural, groupDigits(confirmedCount), groupDigits(n))
		if err := count(math.MaxInt64); err != nil {
			return err
		}
		if n == 0 {
			m.site.hooks.Flash(c, views.FlashInfo, "No "+m.plural+" match any more; nothing was deleted.")
			return c.Redirect(back, fiber.StatusSeeOther)
		}
	}
	var sample []T
	if err := sel(m.site.db.WithContext(ctx)).Where("id <= ?", top).Order("id").Limit(acrossSample).Find(&sample).Error; err != nil {
		return fmt.Errorf("load %s for bulk delete: %w", m.plural, err)
	}
	noun := plural(n, m.singular, m.plural)
	vm := views.DeleteView{Singular: m.singular, Plural: m.plural, Action: m.listURL() + "/bulk", BackURL: back, Bulk: true,
		Across: true, Count: groupDigits(n), Noun: noun, More: groupDigits(n - int64(len(sample))), Notice: notice,
		Matching: m.describe(st)}
	if n-int64(len(sample)) <= 0 {
		vm.More = ""
	}
	for i := range sample {
		vm.Objects = append(vm.Objects, PT(&sample[i]).String())
	}
	vm.Hidden = append(stateHidden(st), views.Hidden{Name: "select_across", Value: "1"},
		views.Hidden{Name: "max_id", Value: strconv.FormatInt(top, 10)}, views.Hidden{Name: "count", Value: strconv.FormatInt(n, 10)})
	title := "Delete " + groupDigits(n) + " " + noun + "?"
	vm.Page = m.site.hooks.Page(c, title, m.crumbs(views.Crumb{Label: "Delete all matching"})...)
	return m.site.hooks.Render(c, fiber.StatusOK, views.DeletePage(vm))
}

// describe says in words what a list state selects (" (matching
// “lámpara”; stock: In stock)"), or "" for the whole list.
func (m *model[T, PT]) describe(st listState) string {
	var parts []string
	if st.q != "" {
		parts = append(parts, "matching “"+st.q+"”")
	}
	for _, f := range m.opts.Filters {
		for _, ch := range f.Choices {
			if st.filters[f.Name] == ch.Value {
				parts = append(parts, f.Title+": "+ch.Label)
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func plural(n int64, singular, plural string) string {
	if n == 1 {
		return singular
	}
	return plural
}

// ---- history ----

func (m *model[T, PT]) history(c *fiber.Ctx) error {
	if err := m.allow(c, "view"); err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return errNotFound
	}
	entries, err := m.site.store.History(c.UserContext(), m.typeName, id, 200)
	if err != nil {
		return err
	}
	rec := PT(new(T))
	repr := ""
	objURL := ""
	if err := m.site.store.Get(c.UserContext(), rec, id); err == nil {
		repr, objURL = rec.String(), m.objectURL(id)
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	} else if len(entries) == 0 {
		return errNotFound
	} else {
		repr = entries[0].ObjectRepr
	}
	vm := views.HistoryView{Singular: m.singular, ObjectRepr: repr, ObjectURL: objURL, Version: strconv.FormatInt(rec.GetVersion(), 10)}
	canRevert := objURL != "" && m.can(c, "change")
	for _, e := range entries {
		ev := HistoryEntryView(e, "", historyValueMax)
		if canRevert && e.Action == "update" {
			ev.RevertURL = fmt.Sprintf("%s/history/%d/revert", objURL, e.ID)
			for i := range ev.Changes {
				ev.Changes[i].Revertable = m.fields[ev.Changes[i].Name] != nil && m.editableBy(c, ev.Changes[i].Name)
			}
		}
		vm.Entries = append(vm.Entries, ev)
	}
	crumb := views.Crumb{Label: repr, URL: objURL}
	vm.Page = m.site.hooks.Page(c, "History of "+repr, m.crumbs(crumb, views.Crumb{Label: "History"})...)
	return m.site.hooks.Render(c, fiber.StatusOK, views.HistoryPage(vm))
}

// Value lengths shown in history rows: an object's history page, and the
// dashboard's and recent actions' summaries (one long document must not
// make those pages hundreds of kilobytes).
const (
	historyValueMax = 2000
	// SummaryValueMax is the length of values in summaries of many objects.
	SummaryValueMax = 120
)

// HistoryEntryView turns a history row into its view model; url links the
// object when it still exists; values are cut to maxLen characters.
func HistoryEntryView(e models.HistoryEntry, url string, maxLen int) views.HistoryEntry {
	out := views.HistoryEntry{When: e.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), ISO: e.CreatedAt.UTC().Format(time.RFC3339),
		Who: orDefault(e.ActorName, "system"), Source: e.Source, Object: e.ObjectRepr, URL: url, Note: e.Note,
		Action: map[string]string{"create": "Added", "update": "Changed", "delete": "Deleted"}[e.Action]}
	changes := e.ChangeMap()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range changes {
			if !yield(k) {
				return
			}
		}
	}) {
		ch := changes[k]
		out.Changes = append(out.Changes, views.FieldChange{Name: k, Field: labelOf(k),
			Old: cut(jsonText(ch.Old), maxLen), New: cut(jsonText(ch.New), maxLen)})
	}
	return out
}

// jsonText shows a recorded JSON value as plain text.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "—"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return "(empty)"
		}
		return s
	}
	return string(raw)
}

// ---- values ----

// displayValue is a field's value as list text.
func displayValue(f *field, v reflect.Value) string {
	switch f.Kind {
	case kindBool:
		return yesNo(v.Bool())
	case kindTime, kindTimePtr:
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return "—"
			}
			v = v.Elem()
		}
		if t, ok := v.Interface().(time.Time); ok {
			return t.UTC().Format("2006-01-02 15:04")
		}
		return ""
	case kindText:
		s := v.String()
		if r := []rune(s); len(r) > 80 {
			return string(r[:79]) + "…"
		}
		return s
	}
	return formValue(f, v)
}

// formValue is a field's value as an input's value.
func formValue(f *field, v reflect.Value) string {
	switch f.Kind {
	case kindString, kindText:
		return v.String()
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindBool:
		if v.Bool() {
			return "on"
		}
		return ""
	case kindMoney:
		if m, ok := v.Interface().(models.Money); ok {
			return m.String()
		}
	case kindTime, kindTimePtr:
		return displayValue(f, v)
	case kindMulti:
		vals := make([]string, v.Len())
		for i := range vals {
			vals[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return joinSet(vals)
	}
	return fmt.Sprint(v.Interface())
}

// joinSet is a set's canonical form value: its values sorted, deduplicated
// and joined by commas (no value of a set holds one).
func joinSet(vals []string) string {
	vals = slices.Compact(slices.Sorted(slices.Values(vals)))
	if len(vals) > 0 && vals[0] == "" {
		vals = vals[1:]
	}
	return strings.Join(vals, ",")
}

func splitSet(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// setValue parses raw into v; it returns a message when raw does not parse.
func setValue(f *field, v reflect.Value, raw string) string {
	switch f.Kind {
	case kindString:
		v.SetString(strings.TrimSpace(raw))
	case kindText:
		v.SetString(strings.ReplaceAll(raw, "\r\n", "\n"))
	case kindInt:
		raw = strings.TrimSpace(raw)
		if raw == "" {
			v.SetInt(0)
			for _, r := range f.Rules {
				if r.Tag == "required" {
					return "is required"
				}
			}
			return ""
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return "must be a whole number"
		}
		v.SetInt(n)
	case kindBool:
		v.SetBool(raw == "on" || raw == "true" || raw == "1")
	case kindMoney:
		if strings.TrimSpace(raw) == "" {
			v.Set(reflect.ValueOf(models.Money{}))
			return ""
		}
		m, err := models.ParseMoney(raw)
		if err != nil {
			return models.ErrMoneyFormat.Error()
		}
		v.Set(reflect.ValueOf(m))
	case kindMulti:
		vals := splitSet(raw)
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf(append([]string{}, vals...)))
			return ""
		}
		ids := []int64{}
		for _, s := range vals {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				return "holds an unknown choice"
			}
			ids = append(ids, n)
		}
		v.Set(reflect.ValueOf(ids))
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// groupDigits writes 1234567 as "1,234,567".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// GroupDigits is groupDigits for the server's dashboard.
func GroupDigits(n int64) string { return groupDigits(n) }

// FormatMoney shows an amount ("1234.50") with thousands separators and
// its currency code: "1,234.50 EUR".
func FormatMoney(amount, currency string) string {
	neg := strings.HasPrefix(amount, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(amount, "-"), ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return amount + " " + currency
	}
	out := groupDigits(n)
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out + " " + currency
}

// cut shortens s to n characters, marking the cut.
func cut(s string, n int) string {
	if r := []rune(s); n > 0 && len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// revert applies a history entry's old values (all of them, or the one
// named by the form's "field") to the object, through the same version
// check and validation as a save; the revert is a history entry of its
// own, noting which entry it reverts.
func (m *model[T, PT]) revert(c *fiber.Ctx) error {
	if err := m.allow(c, "change"); err != nil {
		return err
	}
	rec, err := m.load(c)
	if err != nil {
		return err
	}
	entryID, err := strconv.ParseInt(c.Params("entry"), 10, 64)
	if err != nil || entryID < 1 {
		return errNotFound
	}
	var e models.HistoryEntry
	err = m.site.db.WithContext(c.UserContext()).Take(&e, entryID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (e.ObjectType != m.typeName || e.ObjectID != rec.GetID() || e.Action != "update")) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("load history entry: %w", err)
	}
	only := strings.Clone(c.FormValue("field"))
	historyURL := m.objectURL(rec.GetID()) + "/history"
	rv := reflect.ValueOf(rec).Elem()
	var reverted []string
	for name, ch := range e.ChangeMap() {
		f := m.fields[name]
		if (only != "" && name != only) || f == nil || !m.editableBy(c, name) {
			continue
		}
		dst := reflect.New(f.Type)
		if len(ch.Old) > 0 {
			if err := json.Unmarshal(ch.Old, dst.Interface()); err != nil {
				return fmt.Errorf("revert %s of entry %d: %w", name, e.ID, err)
			}
		}
		rv.FieldByIndex(f.Index).Set(dst.Elem())
		reverted = append(reverted, f.Label)
	}
	if len(reverted) == 0 {
		m.site.hooks.Flash(c, views.FlashError, "Nothing in that entry can be reverted here.")
		return c.Redirect(historyURL, fiber.StatusSeeOther)
	}
	slices.Sort(reverted)
	expected, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	note := fmt.Sprintf("Reverted entry #%d", e.ID)
	if only != "" {
		note += " (" + strings.ToLower(reverted[0]) + ")"
	}
	ctx := models.WithNote(m.actor(c), note)
	err = m.site.store.Update(ctx, rec, expected)
	var vc *models.VersionConflictError
	switch {
	case errors.As(err, &vc):
		m.site.hooks.Flash(c, views.FlashError, fmt.Sprintf("The %s “%s” was changed since you opened its history; nothing was reverted. Review the history and try again.", m.singular, rec.String()))
		return c.Redirect(historyURL, fiber.StatusSeeOther)
	case err != nil:
		if fields, ok := fieldErrors(err); ok {
			var msgs []string
			for _, k := range slices.Sorted(maps.Keys(fields)) {
				label := k
				if f := m.fields[k]; f != nil {
					label = f.Label
				}
				msgs = append(msgs, label+" "+fields[k])
			}
			m.site.hooks.Flash(c, views.FlashError, "The revert was refused: "+strings.Join(msgs, "; ")+".")
			return c.Redirect(historyURL, fiber.StatusSeeOther)
		}
		if errors.Is(err, models.ErrNotFound) {
			return errNotFound
		}
		return err
	}
	m.site.hooks.Flash(c, views.FlashSuccess, fmt.Sprintf("Reverted %s of the %s “%s” as before entry #%d.", strings.Join(reverted, ", "), m.singular, rec.String(), e.ID))
	return c.Redirect(historyURL, fiber.StatusSeeOther)
}
