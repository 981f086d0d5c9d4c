// Package views holds the admin's templ components and the plain view-model
// structs they take. Nothing here knows GORM or the database: handlers turn
// records into these structs, so a component can be rendered and tested on
// its own.
package views

// Page is what every admin page's layout needs.
type Page struct {
	Title string
	// User is the signed-in username ("" on the login page).
	User        string
	IsSuperuser bool
	CSRF        string
	Nav         []NavItem
	Crumbs      []Crumb
	Flashes     []Flash
	// Assets are fingerprinted URLs of the static files.
	Assets Assets
}

// Assets are the URLs of the stylesheets and scripts, with a content hash
// in the query so they can be cached for a year.
type Assets struct {
	Pico string
	CSS  string
	HTMX string
	JS   string
	// ChatJS is the chat playground's stream client.
	ChatJS string
	Admin  string // base path of the admin, "/admin"
}

// NavItem is one link of the sidebar.
type NavItem struct {
	Label  string
	URL    string
	Active bool
}

// Crumb is one step of the breadcrumbs; the last one has no URL.
type Crumb struct {
	Label string
	URL   string
}

// Flash levels.
const (
	FlashSuccess = "success"
	FlashError   = "error"
	FlashInfo    = "info"
)

// Flash is a one-time message shown after an action.
type Flash struct {
	Level   string
	Message string
}

// ListView is a model's change list.
type ListView struct {
	Page
	Plural      string
	Singular    string
	Columns     []Column
	Rows        []Row
	Q           string
	SearchLabel string
	Searchable  bool
	Filters     []FilterGroup
	// Hidden are the current filter and sort parameters, kept by the search form.
	Hidden     []Hidden
	Pagination Pagination
	AddURL     string
	ExportURL  string
	BulkURL    string
	ListURL    string
	// Back is this page's URL (with its query), where a bulk action returns.
	Back      string
	ClearURL  string
	CanAdd    bool
	CanDelete bool
	// Filtered is true when a search or a filter narrows the list.
	Filtered bool
	// SelectAcross, when more rows match than the page shows, offers the
	// bulk action on all of them (nil: the page holds them all).
	SelectAcross *SelectAcross
}

// SelectAcross is Django's "Select all N products": the bulk form then
// carries the list's search and filters (Hidden) instead of ids.
type SelectAcross struct {
	Total  string // "2,000" or "about 2,000"
	Count  int    // for the plural
	OnPage int
	Hidden []Hidden
}

// Hidden is a hidden form input.
type Hidden struct {
	Name  string
	Value string
}

// Column is one header of the list.
type Column struct {
	Label    string
	SortURL  string // "" when the column cannot be sorted
	Sorted   string // "", "asc" or "desc"
	Numeric  bool
	ARIASort string
}

// Row is one object of the list.
type Row struct {
	ID    string
	URL   string
	Repr  string
	Cells []Cell
}

// Cell is one value of a row.
type Cell struct {
	Text    string
	Numeric bool
	// Bool is "yes" or "no" for boolean columns (rendered as a badge).
	Bool string
	// Badge marks a warning value (e.g. low stock).
	Badge string
}

// FilterGroup is one sidebar filter with its choices.
type FilterGroup struct {
	Title   string
	Choices []FilterChoice
}

// FilterChoice is one link of a filter.
type FilterChoice struct {
	Label  string
	URL    string
	Active bool
	// Count is how many rows the choice would list ("1,204", "≈1.2k";
	// "" when not counted); CountTitle explains an estimate.
	Count      string
	CountTitle string
}

// Pagination is the pager under the list.
type Pagination struct {
	Page  int
	Total string // "1,234" or "about 1,000,000"
	// Count is the total as a number, for the plural ("1 product").
	Count      int
	PrevURL    string
	NextURL    string
	Links      []PageLink
	PerPage    int
	ShowingLow int
	ShowingHi  int
}

// PageLink is one numbered page link; a zero Number is an ellipsis.
type PageLink struct {
	Number  int
	URL     string
	Current bool
}

// FormView is an add or change form.
type FormView struct {
	Page
	Singular  string
	IsNew     bool
	Action    string
	Version   string
	Fieldsets []Fieldset
	Errors    []string
	Conflict  *Conflict
	// Originals are the values the form was loaded with (hidden inputs),
	// which the conflict merge compares against.
	Originals []Hidden
	// MaxBytes is the largest body the server accepts (data-max-bytes: the
	// browser refuses a larger form before sending it; 0: no check).
	MaxBytes int
	// Deleted is set when the object was deleted while the user edited it:
	// the form then offers to create it anew with the typed values.
	Deleted    *Deleted
	DeleteURL  string
	HistoryURL string
	ListURL    string
	CanDelete  bool
	// ReadOnly: the user may view, not change (no inputs, no save buttons);
	// ReadOnlyWhy says which permission changing needs.
	ReadOnly    bool
	ReadOnlyWhy string
	// ObjectRepr is the object's name on a change form.
	ObjectRepr string
	// Details are read-only facts shown above a change form (nil: none).
	Details *Details
}

// Details is a titled list of read-only facts about an object.
type Details struct {
	Title string
	Items []Detail
	// Warn marks the section as needing attention (e.g. a failed job).
	Warn bool
}

// Detail is one fact: a label and its value.
type Detail struct {
	Label string
	Value string
}

// Fieldset groups fields under a title.
type Fieldset struct {
	Title  string
	Fields []Field
}

// Widgets of a field.
const (
	WidgetText     = "text"
	WidgetTextarea = "textarea"
	WidgetNumber   = "number"
	WidgetCheckbox = "checkbox"
	WidgetEmail    = "email"
	WidgetPassword = "password"
	WidgetReadOnly = "readonly"
	// WidgetCheckboxes is a set: one checkbox per option, in titled groups.
	WidgetCheckboxes = "checkboxes"
	// WidgetChoice is a field both editors changed: their value and the
	// user's side by side, with keep mine / keep theirs.
	WidgetChoice = "choice"
)

// Field is one input of a form with the HTML attributes derived from the
// model's validate tags.
type Field struct {
	Name      string
	Label     string
	Widget    string
	Value     string
	Checked   bool
	Error     string
	Help      string
	Required  bool
	MaxLength int
	MinLength int
	Min       string
	Max       string
	Step      string
	// Autocomplete is the input's autocomplete hint ("off", "new-password").
	Autocomplete string
	// Groups are a WidgetCheckboxes field's options.
	Groups []OptionGroup
	// Mine and Theirs are a WidgetChoice field's two values as shown;
	// MineValue is the user's value as typed (sent back hidden), Chosen the
	// choice made ("mine", "theirs" or "").
	Mine      string
	Theirs    string
	MineValue string
	Chosen    string
}

// Deleted says who deleted an object being edited, and when.
type Deleted struct {
	By string
	At string
}

// OptionGroup is a titled group of checkboxes ("Product": view, add...).
type OptionGroup struct {
	Title   string
	Options []Option
}

// Option is one checkbox of a set.
type Option struct {
	Value   string
	Label   string
	Checked bool
}

// Conflict explains the merge of the user's form with a version saved
// meanwhile: the fields merged on their own (Rows) and how many the user
// must choose (Choices, shown as WidgetChoice fields in the form).
type Conflict struct {
	Version string
	By      string
	At      string
	Rows    []ConflictRow
	Choices int
}

// ConflictRow is one field the merge decided.
type ConflictRow struct {
	Label  string
	Yours  string
	Theirs string
	// Outcome says what was kept: "their value (you did not change it)"...
	Outcome string
	// Differ: the two values differ (the field was merged, not equal).
	Differ bool
}

// DeleteView confirms the deletion of one or more objects.
type DeleteView struct {
	Page
	Singular string
	Plural   string
	Objects  []string
	IDs      []string
	Action   string
	Version  string
	BackURL  string
	Bulk     bool
	// Across: every row matching the list's search and filters (Matching
	// says which, in words), Count of them, Objects a sample and More how
	// many beyond it ("" when none); Hidden carries the selection;
	// Notice says the selection changed since it was confirmed.
	Across   bool
	Count    string
	Noun     string
	More     string
	Matching string
	Notice   string
	Hidden   []Hidden
}

// HistoryView lists an object's recorded changes.
type HistoryView struct {
	Page
	// Version is the object's current version, which a revert must match.
	Version    string
	Singular   string
	ObjectRepr string
	ObjectURL  string
	Entries    []HistoryEntry
}

// HistoryEntry is one recorded action.
type HistoryEntry struct {
	// RevertURL reverts the entry (whole, or one field with "field"); ""
	// when it cannot be reverted (not a change, or no permission).
	RevertURL string
	// Note says why the entry was made ("Reverted entry #12").
	Note    string
	When    string
	ISO     string
	Who     string
	Source  string
	Action  string
	Object  string
	URL     string
	Changes []FieldChange
}

// FieldChange is one field's old and new value.
type FieldChange struct {
	// Name is the field's name (the revert form's "field"); Revertable:
	// this field alone can be reverted.
	Name       string
	Revertable bool
	Field      string
	Old        string
	New        string
}

// RecentView is the log of recent actions across models, with filters.
type RecentView struct {
	Page
	Entries    []HistoryEntry
	Filters    []FilterGroup
	PrevURL    string
	NextURL    string
	PageNumber int
	ClearURL   string
}

// DashboardView is the admin's home page.
type DashboardView struct {
	Page
	Models   []ModelCount
	LowStock []LowStock
	// LowStockURL lists every product under the threshold; LowStockMore:
	// there are more than shown.
	LowStockURL  string
	LowStockMore bool
	// RecentURL is the page of every recent action.
	RecentURL string
	Recent    []HistoryEntry
	Chart     BarChart
	// ChatUsage is today's chat usage per user and model (empty: none).
	ChatUsage []ChatUsageRow
}

// ChatUsageRow is one user's chat usage with one model today.
type ChatUsageRow struct {
	User       string
	Model      string
	Messages   string
	Tokens     string
	AvgLatency string
}

// ModelCount is one registered model with its object count.
type ModelCount struct {
	Label  string
	URL    string
	AddURL string
	Count  string
}

// LowStock is one product running out.
type LowStock struct {
	Name  string
	URL   string
	Stock string
	// Out: none left.
	Out bool
}

// BarChart is a horizontal bar chart drawn as SVG on the server.
type BarChart struct {
	Title string
	Desc  string
	Bars  []Bar
	Width int
	// Height is the SVG's height in user units.
	Height int
}

// Bar is one bar, already laid out in SVG units.
type Bar struct {
	Label  string
	Value  string
	Y      int
	Width  int
	TextY  int
	ValueX int
}

// LoginView is the sign-in page.
type LoginView struct {
	Page
	Username string
	Next     string
	Error    string
	Notice   string
}

// ErrorView is an HTML error page.
type ErrorView struct {
	Page
	Status  int
	Heading string
	Message string
	Back    string
	// SignIn is set when signing in again is the way forward.
	SignIn string
}

// APIKeysView is the admin's API key page: the keys, the form to make one,
// and, once, right after creating a key, the key itself.
type APIKeysView struct {
	Page
	Keys []APIKeyRow
	// ShowOwner adds the owner column (superusers see everyone's keys).
	ShowOwner bool
	Action    string
	Name      string
	Scope     string
	Scopes    []ScopeChoice
	// NameError and ScopeError are shown next to their fields.
	NameError  string
	ScopeError string
	NameMax    int
	// Expires is the optional expiry date typed (YYYY-MM-DD), MinExpiry today.
	Expires      string
	ExpiresError string
	MinExpiry    string
	// Created is set only on the page right after the key was created.
	Created *CreatedAPIKey
}

// APIKeyRow is one key of the list (never the key itself).
type APIKeyRow struct {
	Name       string
	Owner      string
	Scope      string
	Prefix     string
	Created    string
	CreatedISO string
	LastUsed   string
	Revoked    string
	Expires    string
	Active     bool
	RevokeURL  string
}

// ScopeChoice is one option of the scope select.
type ScopeChoice struct {
	Value string
	Label string
}

// CreatedAPIKey is a key just made, shown this one time.
type CreatedAPIKey struct {
	Name   string
	Scope  string
	Prefix string
	Key    string
}

// RevokeAPIKeyView confirms revoking a key.
type RevokeAPIKeyView struct {
	Page
	Name    string
	Prefix  string
	Owner   string
	Action  string
	BackURL string
}

// AccountView is the signed-in user's own account page.
type AccountView struct {
	Page
	Username, Email, Role string
	Groups                []string
	// APIKeys describes the user's keys ("2 active keys"), linking to them.
	APIKeys, APIKeysURL string
	// Action is where the password form posts.
	Action string
	// Field errors of the password form (the passwords are never echoed).
	OldError, New1Error, New2Error string
	New1Help                       string
}
