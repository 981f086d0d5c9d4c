package adminpanel

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"tienda/app/admin"
	"tienda/models"
	"tienda/views"
)

// recentPerPage is the size of a page of recent actions.
const recentPerPage = 50

// RecentActions: GET /admin/recent-actions, every recorded action across
// the models the user may view, newest first, filtered by user, model,
// action and date, in pages (no total: a log has no end worth counting).
func (p *Panel) RecentActions(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := adminUser(c)
	var types []string
	labels := map[string]string{} // object type -> plural label
	for _, m := range p.site.Models() {
		if models.Permission(u, "view", m.ObjectType) {
			types = append(types, m.ObjectType)
			labels[m.ObjectType] = capitalizeFirst(m.Plural)
		}
	}
	q := url.Values{}
	model := c.Query("model")
	if _, ok := labels[model]; ok {
		q.Set("model", model)
	}
	action := c.Query("action")
	if action == "create" || action == "update" || action == "delete" {
		q.Set("action", action)
	}
	since := c.Query("since")
	sinceDur := map[string]time.Duration{"today": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}
	if _, ok := sinceDur[since]; ok {
		q.Set("since", since)
	}
	var userID int64
	if id, err := strconv.ParseInt(c.Query("user"), 10, 64); err == nil && id > 0 {
		userID = id
		q.Set("user", strconv.FormatInt(id, 10))
	}
	page := 1
	if n, err := strconv.Atoi(c.Query("p")); err == nil && n >= 1 && n <= 100_000 {
		page = n
	}
	var entries []models.HistoryEntry
	if len(types) > 0 {
		db := p.store.DB.WithContext(ctx).Where("object_type IN ?", types)
		if model != "" && q.Get("model") != "" {
			db = db.Where("object_type = ?", model)
		}
		if q.Get("action") != "" {
			db = db.Where("action = ?", action)
		}
		if d, ok := sinceDur[q.Get("since")]; ok {
			db = db.Where("created_at >= ?", models.Now().Add(-d))
		}
		if userID != 0 {
			db = db.Where("actor_id = ?", userID)
		}
		if err := db.Order("id DESC").Offset((page - 1) * recentPerPage).Limit(recentPerPage + 1).Find(&entries).Error; err != nil {
			return fmt.Errorf("recent actions: %w", err)
		}
	}
	base := adminBase + "/recent-actions"
	link := func(edit func(url.Values)) string {
		v := url.Values{}
		for k, vals := range q {
			v[k] = vals
		}
		edit(v)
		if len(v) == 0 {
			return base
		}
		return base + "?" + v.Encode()
	}
	vm := views.RecentView{PageNumber: page, ClearURL: base}
	if len(entries) > recentPerPage {
		entries = entries[:recentPerPage]
		vm.NextURL = link(func(v url.Values) { v.Set("p", strconv.Itoa(page+1)) })
	}
	if page > 1 {
		vm.PrevURL = link(func(v url.Values) { v.Set("p", strconv.Itoa(page-1)) })
	}
	for _, e := range entries {
		objURL := ""
		if e.Action != "delete" {
			objURL = p.site.ObjectURL(e.ObjectType, e.ObjectID)
		}
		vm.Entries = append(vm.Entries, admin.HistoryEntryView(e, objURL, admin.SummaryValueMax))
	}
	group := func(title, key string, choices [][2]string) views.FilterGroup {
		g := views.FilterGroup{Title: title}
		g.Choices = append(g.Choices, views.FilterChoice{Label: "All", Active: q.Get(key) == "",
			URL: link(func(v url.Values) { v.Del(key); v.Del("p") })})
		for _, ch := range choices {
			g.Choices = append(g.Choices, views.FilterChoice{Label: ch[1], Active: q.Get(key) == ch[0],
				URL: link(func(v url.Values) { v.Set(key, ch[0]); v.Del("p") })})
		}
		return g
	}
	var modelChoices [][2]string
	for _, t := range types {
		modelChoices = append(modelChoices, [2]string{t, labels[t]})
	}
	userChoices := [][2]string{{strconv.FormatInt(u.ID, 10), "Me (" + u.Username + ")"}}
	if userID != 0 && userID != u.ID {
		var who models.User
		if err := p.store.DB.WithContext(ctx).Select("id", "username").Take(&who, userID).Error; err == nil {
			userChoices = append(userChoices, [2]string{strconv.FormatInt(who.ID, 10), who.Username})
		}
	}
	vm.Filters = []views.FilterGroup{
		group("model", "model", modelChoices),
		group("action", "action", [][2]string{{"create", "Added"}, {"update", "Changed"}, {"delete", "Deleted"}}),
		group("date", "since", [][2]string{{"today", "Past 24 hours"}, {"7d", "Past 7 days"}, {"30d", "Past 30 days"}}),
		group("user", "user", userChoices),
	}
	vm.Page = p.page(c, "Recent actions", views.Crumb{Label: "Home", URL: adminBase + "/"}, views.Crumb{Label: "Recent actions"})
	return p.render(c, fiber.StatusOK, views.RecentPage(vm))
}
