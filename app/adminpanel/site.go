package adminpanel

import (
	"context"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"

	"tienda/app/admin"
	"tienda/models"
	"tienda/views"
)

// registerModels is the admin's registration of every model: data,
// in one place. A wrong name here stops the server at start-up.
func registerModels(site *admin.Site, store *models.Store) error {
	stock := func(where string, args ...any) func(*gorm.DB) *gorm.DB {
		return func(db *gorm.DB) *gorm.DB { return db.Where(where, args...) }
	}
	price := func(lo, hi int64) func(*gorm.DB) *gorm.DB {
		return func(db *gorm.DB) *gorm.DB {
			db = db.Where("price >= ?", models.Cents(lo))
			if hi > 0 {
				db = db.Where("price < ?", models.Cents(hi))
			}
			return db
		}
	}
	if err := admin.Register[models.Product](site, admin.Options[models.Product]{
		Slug:         "products",
		ListDisplay:  []string{"name", "price", "stock", "updated_at"},
		SearchFields: []string{"name", "description"},
		Filters: []admin.Filter{
			{Name: "stock", Title: "stock", Choices: []admin.Choice{
				{Value: "in", Label: "In stock", Scope: stock("stock > 0")},
				{Value: "out", Label: "Out of stock", Scope: stock("stock = 0")},
				{Value: "low", Label: "Low stock (under 10)", Scope: stock("stock > 0 AND stock < ?", models.LowStockThreshold)},
				// The dashboard's "Low stock" list: running low or out.
				{Value: "short", Label: "Under 10, out of stock too", Scope: stock("stock < ?", models.LowStockThreshold)},
			}},
			{Name: "price", Title: "price", Choices: []admin.Choice{
				{Value: "0-10", Label: "Under 10", Scope: price(0, 1000)},
				{Value: "10-50", Label: "10 to 50", Scope: price(1000, 5000)},
				{Value: "50-200", Label: "50 to 200", Scope: price(5000, 20000)},
				{Value: "200-", Label: "200 and more", Scope: price(20000, 0)},
			}},
		},
		Ordering:  []string{"-updated_at"},
		Fieldsets: []admin.Fieldset{{Title: "Product", Fields: []string{"name", "description", "price", "stock"}}, {Title: "Record", Fields: []string{"created_at", "updated_at", "version"}}},
		ReadOnly:  []string{"created_at", "updated_at", "version"},
		PerPage:   50,
		Badge: func(p *models.Product, field string) string {
			switch {
			case field != "stock":
				return ""
			case p.Stock == 0:
				return "out"
			case p.Stock < models.LowStockThreshold:
				return "low"
			}
			return ""
		},
	}); err != nil {
		return err
	}
	day := func(d time.Duration) func(*gorm.DB) *gorm.DB {
		return func(db *gorm.DB) *gorm.DB { return db.Where("updated_at >= ?", models.Now().Add(-d)) }
	}
	if err := admin.Register[models.Document](site, admin.Options[models.Document]{
		Slug:         "documents",
		ListDisplay:  []string{"title", "updated_at", "created_at"},
		SearchFields: []string{"title", "content"},
		Filters: []admin.Filter{{Name: "updated", Title: "last update", Choices: []admin.Choice{
			{Value: "today", Label: "Past 24 hours", Scope: day(24 * time.Hour)},
			{Value: "7d", Label: "Past 7 days", Scope: day(7 * 24 * time.Hour)},
			{Value: "30d", Label: "Past 30 days", Scope: day(30 * 24 * time.Hour)},
			{Value: "year", Label: "Past year", Scope: day(365 * 24 * time.Hour)},
		}}},
		Ordering:  []string{"-updated_at"},
		Fieldsets: []admin.Fieldset{{Title: "Document", Fields: []string{"title", "content"}}, {Title: "Record", Fields: []string{"created_at", "updated_at", "version"}}},
		ReadOnly:  []string{"created_at", "updated_at", "version"},
		PerPage:   50,
		// The knowledge-base index state, when the document is not (yet)
		// searchable by the chat with its current content.
		Badge: func(d *models.Document, field string) string {
			if field != "title" {
				return ""
			}
			switch {
			case d.Index == nil || d.Index.State == models.IndexPending:
				return "indexing"
			case d.Index.State == models.IndexFailed:
				return "index failed"
			}
			return ""
		},
		Details: documentIndexDetails,
	}); err != nil {
		return err
	}
	groupChoices := func(ctx context.Context) ([]admin.ChoiceGroup, error) {
		groups, err := store.Groups(ctx)
		if err != nil {
			return nil, err
		}
		g := admin.ChoiceGroup{Title: "Groups"}
		for _, gr := range groups {
			g.Options = append(g.Options, admin.Option{Value: strconv.FormatInt(gr.ID, 10), Label: gr.Name})
		}
		return []admin.ChoiceGroup{g}, nil
	}
	if err := admin.Register[models.User](site, admin.Options[models.User]{
		Slug:         "users",
		ListDisplay:  []string{"username", "email", "is_staff", "is_superuser", "is_active", "last_login"},
		SearchFields: []string{"username", "email"},
		Filters: []admin.Filter{{Name: "role", Title: "role", Choices: []admin.Choice{
			{Value: "superuser", Label: "Superusers", Scope: func(db *gorm.DB) *gorm.DB { return db.Where("is_superuser = ?", true) }},
			{Value: "staff", Label: "Staff", Scope: func(db *gorm.DB) *gorm.DB { return db.Where("is_staff = ? AND is_superuser = ?", true, false) }},
			{Value: "inactive", Label: "Inactive", Scope: func(db *gorm.DB) *gorm.DB { return db.Where("is_active = ?", false) }},
		}}},
		Ordering: []string{"username"},
		Labels: map[string]string{"is_active": "Active", "is_staff": "Staff status", "is_superuser": "Superuser status",
			"user_permissions": "User permissions"},
		New: func(context.Context) *models.User { return &models.User{IsActive: true, IsStaff: true} },
		Fieldsets: []admin.Fieldset{
			{Title: "Account", Fields: []string{"username", "email"}},
			{Title: "Permissions", Fields: []string{"is_active", "is_staff", "is_superuser", "groups", "user_permissions"}},
			{Title: "Password", Fields: []string{"last_login"}},
		},
		ReadOnly: []string{"last_login", "created_at", "updated_at"},
		Multi:    map[string]func(context.Context) ([]admin.ChoiceGroup, error){"groups": groupChoices, "user_permissions": permissionChoices},
		// Who may grant rights: superusers (a clerk allowed to change
		// users cannot make itself a superuser or give itself permissions).
		SuperuserOnly: []string{"is_superuser", "groups", "user_permissions"},
		Extra: []admin.Extra{{Name: "password", Label: "New password", Widget: views.WidgetPassword, Fieldset: "Password",
			Help: "Required for a new user; leave empty to keep the current password. It is stored hashed and never shown."}},
		BeforeSave: func(ctx context.Context, u *models.User, extra map[string]string, creating bool) error {
			// A superuser cannot lock themselves out by mistake.
			if !creating && u.ID == models.ActorFrom(ctx).UserID {
				var stored models.User
				if err := store.Get(ctx, &stored, u.ID); err != nil {
					return err
				}
				switch {
				case !u.IsActive:
					return models.FieldError("is_active", "cannot be removed from your own account")
				case !u.IsStaff:
					return models.FieldError("is_staff", "cannot be removed from your own account")
				case stored.IsSuperuser && !u.IsSuperuser:
					return models.FieldError("is_superuser", "cannot be removed from your own account")
				}
			}
			// A new staff user given no group and no permission joins the
			// Staff group (today's staff rights), as createsuperuser --staff does.
			if creating && u.IsStaff && !u.IsSuperuser && len(u.Groups) == 0 && len(u.UserPermissions) == 0 {
				if g, err := store.GroupByName(ctx, models.StaffGroup); err == nil {
					u.Groups = []int64{g.ID}
				} else if !errors.Is(err, models.ErrNotFound) {
					return err
				}
			}
			pw := extra["password"]
			if pw == "" && !creating {
				return nil
			}
			if pw == "" {
				return models.FieldError("password", "is required")
			}
			return u.SetPassword(ctx, pw)
		},
	}); err != nil {
		return err
	}
	return admin.Register[models.Group](site, admin.Options[models.Group]{
		Slug:          "groups",
		ListDisplay:   []string{"name", "updated_at"},
		SearchFields:  []string{"name"},
		Ordering:      []string{"name"},
		Fieldsets:     []admin.Fieldset{{Title: "Group", Fields: []string{"name", "permissions"}}, {Title: "Record", Fields: []string{"created_at", "updated_at", "version"}}},
		ReadOnly:      []string{"created_at", "updated_at", "version"},
		Multi:         map[string]func(context.Context) ([]admin.ChoiceGroup, error){"permissions": permissionChoices},
		SuperuserOnly: []string{"permissions"},
	})
}

// permissionChoices are every permission, as checkboxes grouped by model.
func permissionChoices(context.Context) ([]admin.ChoiceGroup, error) {
	var out []admin.ChoiceGroup
	for _, p := range models.Permissions() {
		title := capitalizeFirst(p.ObjectType)
		if len(out) == 0 || out[len(out)-1].Title != title {
			out = append(out, admin.ChoiceGroup{Title: title})
		}
		g := &out[len(out)-1]
		g.Options = append(g.Options, admin.Option{Value: p.Codename, Label: p.Label})
	}
	return out, nil
}

// documentIndexDetails shows a document's knowledge-base index state on
// its change page: what the chat can search, and why not when it failed.
func documentIndexDetails(d *models.Document) *views.Details {
	out := &views.Details{Title: "Knowledge base index"}
	ix := d.Index
	if ix == nil {
		out.Items = []views.Detail{{Label: "State", Value: "waiting to be indexed"}}
		return out
	}
	out.Items = append(out.Items, views.Detail{Label: "State", Value: ix.State})
	if ix.State == models.IndexFailed {
		out.Warn = true
		out.Items = append(out.Items, views.Detail{Label: "Error", Value: ix.Error})
	}
	if ix.EmbeddingModel != "" {
		out.Items = append(out.Items,
			views.Detail{Label: "Embedding model", Value: ix.EmbeddingModel},
			views.Detail{Label: "Dimension", Value: strconv.Itoa(ix.EmbeddingDim)},
			views.Detail{Label: "Chunks", Value: strconv.Itoa(ix.Chunks)})
	}
	if ix.IndexedAt != nil {
		out.Items = append(out.Items, views.Detail{Label: "Indexed at", Value: ix.IndexedAt.UTC().Format("2006-01-02 15:04 MST")})
	}
	return out
}
