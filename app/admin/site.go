// Package admin is the generic admin engine, Django's contrib.admin idea in
// Go: a model is registered with declarative options (list columns, search
// fields, filters, ordering, fieldsets, read-only fields, page size) and
// gets a list page, add and change forms, a delete confirmation, bulk
// delete, CSV export and a history page. The engine knows no model by name:
// it reads each struct once through GORM's schema parser and its json and
// validate tags, and refuses unknown names when the site is built.
package admin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"tienda/models"
	"tienda/views"
)

// Hooks connect the engine to the server that mounts it: who is signed
// in, the layout of a page, flash messages and rendering. The engine knows
// nothing about sessions or CSRF; the server does.
type Hooks struct {
	// User is the signed-in user; the server's middleware guarantees one.
	User func(c *fiber.Ctx) *models.User
	// Page builds the layout view model (user, CSRF token, navigation,
	// pending flash messages) for a page with this title and breadcrumbs.
	Page func(c *fiber.Ctx, title string, crumbs ...views.Crumb) views.Page
	// Flash queues a message for the next page the user sees.
	Flash func(c *fiber.Ctx, level, message string)
	// Render writes comp as the HTML response with the given status.
	Render func(c *fiber.Ctx, status int, comp templ.Component) error
}

// Site is a set of registered models served under one base path.
type Site struct {
	Base string
	CSV  ExportOptions // the CSV export's pages, connections and client write timeout
	// Currency is the ISO code money fields are shown with ("EUR").
	Currency string
	// MaxBody is the largest request body the server accepts: forms
	// refuse a larger one in the browser, before sending (0: no check).
	MaxBody int
	// CountBudget is how long a list's total, and each filter's counts,
	// may take before they are estimated (0: models.DefaultCountBudget).
	CountBudget time.Duration
	db          *gorm.DB
	store       *models.Store
	hooks       Hooks
	models      []modelAdmin
	bySlug      map[string]modelAdmin
	cache       *sync.Map
	// exportSlots bounds the export statements running at once (CSV.Connections).
	exportSlots chan struct{}
	exportOnce  sync.Once
}

// NewSite makes an empty site served under base (e.g. "/admin").
func NewSite(base string, store *models.Store, hooks Hooks) *Site {
	return &Site{Base: strings.TrimRight(base, "/"), db: store.DB, store: store, hooks: hooks,
		bySlug: map[string]modelAdmin{}, cache: &sync.Map{}}
}

// Fieldset groups form fields under a title.
type Fieldset struct {
	Title  string
	Fields []string
}

// Filter is a sidebar filter: a query parameter (Name) whose values are
// the fixed Choices. Only a known choice ever reaches SQL, through its
// Scope (which binds its values); anything else is ignored.
type Filter struct {
	Name    string
	Title   string
	Choices []Choice
}

// Choice is one value of a filter.
type Choice struct {
	Value string
	Label string
	Scope func(db *gorm.DB) *gorm.DB
}

// ChoiceGroup is a titled group of a Multi field's choices.
type ChoiceGroup struct {
	Title   string
	Options []Option
}

// Option is one choice of a Multi field: the stored value and its label.
type Option struct {
	Value string
	Label string
}

// Extra is a form input that is not a column (e.g. a new password). Its
// value is handed to BeforeSave and never rendered back.
type Extra struct {
	Name     string
	Label    string
	Help     string
	Widget   string // views.WidgetPassword, views.WidgetText...
	Fieldset string // title of the fieldset it joins (the last one when empty)
}

// Options register one model. Names are JSON names (which are also the
// columns and the form inputs). Zero values get sensible defaults.
type Options[T any] struct {
	Slug         string // URL segment, default: lower-case plural of the type
	Singular     string // "product"
	Plural       string // "products"
	ListDisplay  []string
	SearchFields []string
	Filters      []Filter
	Ordering     []string // the first entry is the default sort, e.g. "-updated_at"
	Fieldsets    []Fieldset
	ReadOnly     []string
	PerPage      int
	// Labels rename fields in headers, forms and messages ("is_staff": "Staff status").
	Labels map[string]string
	Extra  []Extra
	// BeforeSave applies the Extra inputs to rec before validation; it
	// returns a *models.ValidationError to show messages next to them.
	BeforeSave func(ctx context.Context, rec *T, extra map[string]string, creating bool) error
	// New returns a new object with its initial form values (zero value when nil).
	New func(ctx context.Context) *T
	// Multi declares the fields that hold sets (a user's groups, a group's
	// permissions: []string or []int64 fields the model saves with itself,
	// models.Store.LoadRelations) and their choices, shown as checkboxes
	// in titled groups.
	Multi map[string]func(ctx context.Context) ([]ChoiceGroup, error)
	// SuperuserOnly fields are editable by superusers only; others see
	// them read-only (who may grant rights, for instance).
	SuperuserOnly []string
	// Badge returns a short warning for a list cell ("low"), or "".
	Badge func(rec *T, field string) string
	// Details returns read-only facts about a saved object shown above its
	// change form under a title (e.g. a document's index state), or nil.
	Details func(rec *T) *views.Details
}

// ModelInfo describes a registered model to the server (navigation, dashboard).
type ModelInfo struct {
	Slug       string
	Singular   string
	Plural     string
	ObjectType string
	URL        string
	// Count returns the number of objects, capped like list totals.
	Count func(ctx context.Context) (int64, bool, error)
}

// Models lists the registrations in registration order.
func (s *Site) Models() []ModelInfo {
	out := make([]ModelInfo, 0, len(s.models))
	for _, m := range s.models {
		out = append(out, m.info())
	}
	return out
}

// ObjectURL is the change page of an object of objectType, or "" when no
// registration serves that type.
func (s *Site) ObjectURL(objectType string, id int64) string {
	for _, m := range s.models {
		if m.info().ObjectType == objectType {
			return fmt.Sprintf("%s/%s/%d", s.Base, m.info().Slug, id)
		}
	}
	return ""
}

// modelAdmin is a registration with its type erased, so the router can
// dispatch by slug.
type modelAdmin interface {
	info() ModelInfo
	list(c *fiber.Ctx) error
	export(c *fiber.Ctx) error
	bulk(c *fiber.Ctx) error
	addForm(c *fiber.Ctx) error
	create(c *fiber.Ctx) error
	changeForm(c *fiber.Ctx) error
	update(c *fiber.Ctx) error
	deleteForm(c *fiber.Ctx) error
	remove(c *fiber.Ctx) error
	history(c *fiber.Ctx) error
	revert(c *fiber.Ctx) error
}

// field is what the engine knows about one struct field.
type field struct {
	Name   string // JSON name
	Label  string
	Column string
	Index  []int
	Type   reflect.Type
	Kind   fieldKind
	Rules  []models.Rule
}

type fieldKind int

const (
	kindOther fieldKind = iota
	kindString
	kindText
	kindInt
	kindBool
	kindMoney
	kindTime
	kindTimePtr
	kindMulti // a set: []string or []int64, Options.Multi
)

var (
	moneyType   = reflect.TypeFor[models.Money]()
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
	slugRe      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	reserved    = []string{"q", "o", "p", "_csrf", "ids", "action", "confirm", "version", "back", "select_across", "max_id", "count"}
	// bookkeeping fields are never bound from a form.
	bookkeeping = []string{"id", "version", "created_at", "updated_at"}
)

// Register adds a model to the site. It returns an error naming every
// unknown or misused name, so a bad registration stops the server at start-up.
func Register[T any, PT interface {
	*T
	models.Entity
}](s *Site, o Options[T]) error {
	m, err := newModel[T, PT](s, o)
	if err != nil {
		return err
	}
	if _, dup := s.bySlug[m.slug]; dup {
		return fmt.Errorf("admin: %s: slug %q is registered twice", m.typeName, m.slug)
	}
	s.models = append(s.models, m)
	s.bySlug[m.slug] = m
	return nil
}

func newModel[T any, PT interface {
	*T
	models.Entity
}](s *Site, o Options[T]) (*model[T, PT], error) {
	sch, err := schema.Parse(new(T), s.cache, s.db.NamingStrategy)
	if err != nil {
		return nil, fmt.Errorf("admin: parse %T: %w", *new(T), err)
	}
	typeName := strings.ToLower(reflect.TypeFor[T]().Name())
	m := &model[T, PT]{site: s, typeName: typeName, table: sch.Table, fields: map[string]*field{}, opts: o}
	for _, sf := range sch.Fields {
		name, _, _ := strings.Cut(sf.StructField.Tag.Get("json"), ",")
		_, multi := o.Multi[name]
		if (sf.DBName == "" && !multi) || name == "-" {
			continue
		}
		if name == "" {
			name = sf.DBName
		}
		f := &field{Name: name, Label: labelOf(name), Column: sf.DBName, Index: sf.StructField.Index,
			Type: sf.StructField.Type, Rules: models.Rules(sf.StructField)}
		f.Kind = kindOf(f)
		if multi {
			f.Kind = kindMulti
			if t := f.Type; t != reflect.TypeFor[[]string]() && t != reflect.TypeFor[[]int64]() {
				return nil, fmt.Errorf("admin: %s: Multi field %q must be []string or []int64, not %s", typeName, name, t)
			}
		}
		m.fields[name] = f
		m.order = append(m.order, name)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	known := func(opt string, names []string, ok func(*field) string) {
		for _, n := range names {
			f := m.fields[n]
			if f == nil {
				bad("%s: unknown field %q (known: %s)", opt, n, strings.Join(m.order, ", "))
				continue
			}
			if ok != nil {
				if why := ok(f); why != "" {
					bad("%s: field %q %s", opt, n, why)
				}
			}
		}
	}
	// Defaults: a registration with no options still works.
	m.singular = orDefault(o.Singular, labelOf(typeName))
	m.singular = strings.ToLower(m.singular)
	m.plural = strings.ToLower(orDefault(o.Plural, m.singular+"s"))
	m.slug = orDefault(o.Slug, strings.ReplaceAll(m.plural, " ", "-"))
	if !slugRe.MatchString(m.slug) || slices.Contains([]string{"login", "logout", "static", "chat", "api-keys", "recent-actions", "account"}, m.slug) {
		bad("slug %q must be lower-case letters, digits and dashes, and not a reserved admin path", m.slug)
	}
	m.columns = o.ListDisplay
	if len(m.columns) == 0 {
		for _, n := range m.order {
			if k := m.fields[n].Kind; k != kindText && k != kindMulti && len(m.columns) < 6 {
				m.columns = append(m.columns, n)
			}
		}
	}
	known("ListDisplay", m.columns, nil)
	known("SearchFields", o.SearchFields, func(f *field) string {
		if f.Kind != kindString && f.Kind != kindText {
			return "is not text and cannot be searched"
		}
		return ""
	})
	known("ReadOnly", o.ReadOnly, nil)
	known("SuperuserOnly", o.SuperuserOnly, nil)
	for n := range o.Multi {
		if m.fields[n] == nil {
			bad("Multi: unknown field %q", n)
		}
	}
	for n, label := range o.Labels {
		if f := m.fields[n]; f == nil {
			bad("Labels: unknown field %q (known: %s)", n, strings.Join(m.order, ", "))
		} else if label != "" {
			f.Label = label
		}
	}
	m.readOnly = append(slices.Clone(o.ReadOnly), bookkeeping...)
	m.fieldsets = o.Fieldsets
	if len(m.fieldsets) == 0 {
		fs := Fieldset{Title: labelOf(typeName)}
		for _, n := range m.order {
			if !slices.Contains(m.readOnly, n) {
				fs.Fields = append(fs.Fields, n)
			}
		}
		m.fieldsets = []Fieldset{fs}
	}
	for _, fs := range m.fieldsets {
		known("Fieldsets["+fs.Title+"]", fs.Fields, func(f *field) string {
			if f.Kind == kindOther && !slices.Contains(m.readOnly, f.Name) {
				return "has a type the form cannot edit; list it in ReadOnly"
			}
			return ""
		})
	}
	// Sorting is whitelisted: the list's columns plus the ordering's fields.
	m.sortable = []string{}
	for _, n := range m.columns {
		if f := m.fields[n]; f != nil && f.Kind != kindText && f.Kind != kindMulti {
			m.sortable = append(m.sortable, n)
		}
	}
	ordering := o.Ordering
	if len(ordering) == 0 {
		ordering = []string{"-id"}
	}
	for _, ord := range ordering {
		n := strings.TrimPrefix(ord, "-")
		if m.fields[n] == nil {
			bad("Ordering: unknown field %q (known: %s)", n, strings.Join(m.order, ", "))
		} else if !slices.Contains(m.sortable, n) {
			m.sortable = append(m.sortable, n)
		}
	}
	if !slices.Contains(m.sortable, "id") && m.fields["id"] != nil {
		m.sortable = append(m.sortable, "id")
	}
	m.perPage = o.PerPage
	if m.perPage == 0 {
		m.perPage = 50
	}
	if m.perPage < 1 || m.perPage > models.MaxPageSize {
		bad("PerPage must be from 1 to %d, not %d", models.MaxPageSize, o.PerPage)
	}
	seen := map[string]bool{}
	for _, f := range o.Filters {
		switch {
		case f.Name == "" || slices.Contains(reserved, f.Name) || seen[f.Name]:
			bad("Filters: name %q is empty, reserved (%s) or used twice", f.Name, strings.Join(reserved, ", "))
		case len(f.Choices) == 0:
			bad("Filters[%s]: no choices", f.Name)
		}
		seen[f.Name] = true
		vals := map[string]bool{}
		for _, ch := range f.Choices {
			if ch.Value == "" || vals[ch.Value] || ch.Scope == nil {
				bad("Filters[%s]: choice %q is empty, repeated or has no Scope", f.Name, ch.Value)
			}
			vals[ch.Value] = true
		}
	}
	for _, e := range o.Extra {
		if e.Name == "" || m.fields[e.Name] != nil || slices.Contains(reserved, e.Name) {
			bad("Extra: name %q is empty, a column or reserved", e.Name)
		}
	}
	if len(o.Extra) > 0 && o.BeforeSave == nil {
		bad("Extra inputs need a BeforeSave to apply them")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("admin: registration of %s (%s) is invalid:\n  %s", typeName, m.slug, strings.Join(problems, "\n  "))
	}
	search := slices.Clone(o.SearchFields)
	for i, n := range search {
		search[i] = m.fields[n].Column
	}
	m.spec = models.ListSpec{Table: m.table, Sortable: columnsOf(m, m.sortable), SearchFields: search,
		DefaultSort: sortColumn(m, ordering[0])}
	return m, nil
}

func columnsOf[T any, PT interface {
	*T
	models.Entity
}](m *model[T, PT], names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = m.fields[n].Column
	}
	return out
}

func sortColumn[T any, PT interface {
	*T
	models.Entity
}](m *model[T, PT], ord string) string {
	desc := strings.HasPrefix(ord, "-")
	col := m.fields[strings.TrimPrefix(ord, "-")].Column
	if desc {
		return "-" + col
	}
	return col
}

func kindOf(f *field) fieldKind {
	switch {
	case f.Type == moneyType:
		return kindMoney
	case f.Type == timeType:
		return kindTime
	case f.Type == timePtrType:
		return kindTimePtr
	}
	switch f.Type.Kind() {
	case reflect.String:
		for _, r := range f.Rules {
			if r.Tag == "text" {
				return kindText
			}
		}
		return kindString
	case reflect.Int, reflect.Int32, reflect.Int64:
		return kindInt
	case reflect.Bool:
		return kindBool
	}
	return kindOther
}

// labelOf turns "last_login" into "Last login".
func labelOf(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	if s == "id" {
		return "ID"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// on serves a request for the model named by the :model parameter with h;
// a slug no model has falls through to later routes (and so to a 404).
func (s *Site) on(c *fiber.Ctx, h func(modelAdmin, *fiber.Ctx) error) error {
	m, ok := s.bySlug[c.Params("model")]
	if !ok {
		return c.Next()
	}
	return h(m, c)
}

// The pages of every registered model, mounted by the server's route
// index under the site's base as /:model...

// List: GET /:model (q, o, p and filters).
func (s *Site) List(c *fiber.Ctx) error { return s.on(c, modelAdmin.list) }

// AddForm: GET /:model/new.
func (s *Site) AddForm(c *fiber.Ctx) error { return s.on(c, modelAdmin.addForm) }

// Create: POST /:model/new.
func (s *Site) Create(c *fiber.Ctx) error { return s.on(c, modelAdmin.create) }

// Export: GET /:model/export.csv.
func (s *Site) Export(c *fiber.Ctx) error { return s.on(c, modelAdmin.export) }

// Bulk: POST /:model/bulk (bulk delete).
func (s *Site) Bulk(c *fiber.Ctx) error { return s.on(c, modelAdmin.bulk) }

// ChangeForm: GET /:model/:id.
func (s *Site) ChangeForm(c *fiber.Ctx) error { return s.on(c, modelAdmin.changeForm) }

// Update: POST /:model/:id.
func (s *Site) Update(c *fiber.Ctx) error { return s.on(c, modelAdmin.update) }

// DeleteForm: GET /:model/:id/delete.
func (s *Site) DeleteForm(c *fiber.Ctx) error { return s.on(c, modelAdmin.deleteForm) }

// Delete: POST /:model/:id/delete.
func (s *Site) Delete(c *fiber.Ctx) error { return s.on(c, modelAdmin.remove) }

// History: GET /:model/:id/history.
func (s *Site) History(c *fiber.Ctx) error { return s.on(c, modelAdmin.history) }

// Revert: POST /:model/:id/history/:entry/revert (the whole entry, or the
// field named by the form's "field").
func (s *Site) Revert(c *fiber.Ctx) error { return s.on(c, modelAdmin.revert) }

// errNotFound is rendered as an HTML page by the server's error handler
// (a refused permission is a *models.PermissionDenied, which names it).
var errNotFound = fiber.NewError(fiber.StatusNotFound, "Not found.")

// isValidation reports whether err is a validation error and returns its fields.
func isValidation(err error) (map[string]string, bool) {
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields, true
	}
	return nil, false
}
