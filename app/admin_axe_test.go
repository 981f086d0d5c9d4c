package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"tienda"
	"tienda/app/adminpanel"
	"tienda/models"
)

// axeTags are the rule sets every admin page must pass: WCAG 2.0 and 2.1,
// levels A and AA, and axe's best practices.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"}

// axeModes are the colour schemes every page is checked in. Reduced motion
// is emulated too so that Pico's colour transitions are instant: the
// contrast check must see the final colours of the scheme, not a mix.
var axeModes = []string{"light", "dark"}

// vendoredAxe reads the pinned axe-core (test data, never served) and
// checks it against the sha256 noted in its VENDOR.md.
func vendoredAxe(t *testing.T) string {
	t.Helper()
	js, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v (run .ci/vendor-axe)", err)
	}
	note, err := os.ReadFile(filepath.Join("testdata", "axe", "VENDOR.md"))
	if err != nil {
		t.Fatalf("axe-core VENDOR.md: %v", err)
	}
	sum := sha256.Sum256(js)
	if !strings.Contains(string(note), "| axe.min.js | "+hex.EncodeToString(sum[:])+" |") {
		t.Fatalf("testdata/axe/axe.min.js does not match the sha256 in its VENDOR.md (run .ci/vendor-axe)")
	}
	return string(js)
}

// TestAxeIsTestOnly: axe-core is test data; no file the binary embeds
// (and so serves) is it.
func TestAxeIsTestOnly(t *testing.T) {
	err := fs.WalkDir(tienda.Static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(tienda.Static, path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("/*! axe v")) {
			t.Errorf("%s is axe-core: it belongs in app/testdata/axe, not in the binary", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// axeNotPages are the admin routes whose answer is no page, and why.
var axeNotPages = map[string]string{
	"GET /admin/:model/export.csv": "a CSV download",
	"GET /admin/logout":            "a redirect to the dashboard (signing out is a POST)",
}

// axePage is one page (or one state of a page) to check.
type axePage struct {
	name string // what it is, in the report
	// covers are the routes ("GET /admin/:model") whose answer this is.
	covers []string
	path   string // where to go first (from the base URL)
	// reach, when set, runs after loading path to bring the page into the
	// state to check (submitting a form, say); it triggers a navigation
	// unless inPage is set.
	reach  []chromedp.Action[chromedp.Void]
	inPage bool
	// status is the HTTP status the page must answer (200 when 0); ready
	// must then be shown, proving it is the page meant.
	status int
	ready  string
}

// axeViolation is what the test reports of one failed rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeResult is the summary of one axe run.
type axeResult struct {
	Violations []axeViolation `json:"violations"`
	Passes     int            `json:"passes"`
	Incomplete []string       `json:"incomplete"`
}

// axeRunScript runs axe on the whole document and returns a compact
// summary; the number of passed rules proves it really ran.
var axeRunScript = `axe.run(document, {runOnly: {type: 'tag', values: ` + mustJSON(axeTags) + `}, resultTypes: ['violations']})
  .then(r => JSON.stringify({
    passes: r.passes.length,
    incomplete: r.incomplete.flatMap(i => i.nodes.map(n => i.id + ': ' + n.any.concat(n.all).map(c => c.message).join('; '))),
    violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target.map(String).join(' '), summary: n.failureSummary}))})),
  }))`

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestAdminAccessibility runs axe-core (pinned, testdata/axe) in headless
// Chromium on every admin page, in light and dark mode, as a superuser on
// a server with data. The pages come from the router and the site: every
// GET route of the admin for every registered model, lists also filtered,
// searched and empty; then the answers of every POST route (form errors,
// the conflict and deleted-meanwhile screens, the bulk delete
// confirmation, a new API key, notices after a delete, a revert, a revoke
// and signing out), the error pages inside the layout, and the
// playground's error and an answer with sources. A route no page covers fails the test, so a new page is checked
// (or this test taught how to reach it). Any violation of WCAG 2.1 A/AA or
// axe's best practices fails it, listed by page, mode, rule, impact,
// elements and help.
func TestAdminAccessibility(t *testing.T) {
	bin := findChromium(t)
	axeJS := vendoredAxe(t)
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("ana", true, true)
	fx := seedAccessibility(t, ts, pw)
	base := ts.listen()

	ctx := newBrowser(t, bin, chromedp.WindowSize(1280, 900))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	// Start the browser on the tab's own context: the per-page timeouts
	// below derive from it, and ending the first one would close the tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var shots string
	if os.Getenv("SCREENSHOT_DIR") != "" {
		shots = filepath.Join(screenshotDir(t), "axe")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := &axeRun{t: t, ctx: ctx, base: base, js: axeJS, shots: shots, covered: map[string]bool{}}
	run.control()

	// Signed out: the sign-in page, then its error.
	run.check(axePage{name: "sign-in", covers: []string{"GET /admin/login"}, path: "/admin/login", ready: "#id_username"})
	run.check(axePage{name: "sign-in: wrong password", covers: []string{"POST /admin/login"}, path: "/admin/login",
		status: 401, ready: "#login-error", reach: []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS("#id_username"), "ana"), chromedp.SendKeys(chromedp.CSS("#id_password"), "not-the-password"),
			chromedp.Click(chromedp.CSS(`.login-card button[type="submit"]`))}})
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("#id_username")),
		chromedp.SendKeys(chromedp.CSS("#id_username"), "ana"), chromedp.SendKeys(chromedp.CSS("#id_password"), pw),
		chromedp.Click(chromedp.CSS(`.login-card button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".sidebar"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}

	client := ts.browser()
	client.login("ana", pw)
	var slugs []string
	for _, m := range ts.srv.panel.Site().Models() {
		slugs = append(slugs, m.Slug)
	}
	if len(slugs) < 4 {
		t.Fatalf("registered models %v: want products, documents, users and groups at least", slugs)
	}
	var routes []string
	for _, r := range ts.srv.app.GetRoutes(true) {
		if r.Method != "HEAD" && strings.HasPrefix(r.Path, adminpanel.Base) {
			routes = append(routes, r.Method+" "+r.Path)
		}
	}
	sort.Strings(routes)
	routes = slices.Compact(routes)
	for _, p := range adminRoutePages(t, client, routes, slugs, func(r string) bool { return run.covered[r] || axeNotPages[r] != "" }) {
		run.check(p)
	}
	for _, p := range adminStates(ts, slugs, fx) {
		run.check(p)
	}
	for _, r := range routes {
		if !run.covered[r] && axeNotPages[r] == "" {
			t.Errorf("%s: no page of it checked; teach adminRoutePages or adminStates how to reach it", r)
		}
	}
	t.Logf("axe-core: %d pages × %d modes = %d runs, %d violations", run.pages, len(axeModes), run.runs, run.violations)
	if run.violations > 0 {
		t.Errorf("accessibility violations (axe-core, %s):\n%s", strings.Join(axeTags, ", "), run.report.String())
	}
}

// axeRun checks pages in one tab and collects the violations.
type axeRun struct {
	t          *testing.T
	ctx        context.Context
	base, js   string
	shots      string // every page's screenshot goes here when set
	report     strings.Builder
	pages      int
	runs       int
	violations int
	covered    map[string]bool
}

func emulateMedia(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{
			{Name: "prefers-color-scheme", Value: scheme}, {Name: "prefers-reduced-motion", Value: "reduce"}}})
		return err
	})
}

// axe injects axe-core into the page (once per document) and runs it in
// the colour scheme mode.
func (r *axeRun) axe(ctx context.Context, mode string) (axeResult, error) {
	var res axeResult
	out, err := chromedp.Run(ctx, chromedp.Action[string](func(ctx context.Context, tg *chromedp.Target) (string, error) {
		if _, err := emulateMedia(mode)(ctx, tg); err != nil {
			return "", err
		}
		if _, err := chromedp.Evaluate[bool](`typeof axe !== 'undefined' || (function(){`+r.js+`; return true})()`)(ctx, tg); err != nil {
			return "", fmt.Errorf("inject axe: %w", err)
		}
		return chromedp.Evaluate[string](axeRunScript, chromedp.EvalAwaitPromise)(ctx, tg)
	}))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return res, fmt.Errorf("axe result: %w", err)
	}
	if res.Passes == 0 {
		return res, errors.New("axe passed no rule: it did not run")
	}
	return res, nil
}

// control proves the check can fail: an image without a text
// alternative, added to a real page, is reported.
func (r *axeRun) control() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(r.base+"/admin/login"), chromedp.WaitVisible(chromedp.CSS("main")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('main').append(Object.assign(document.createElement('img'), {src: '/static/favicon.svg'}))`)); err != nil {
		r.t.Fatalf("control page: %v", err)
	}
	res, err := r.axe(ctx, axeModes[0])
	if err != nil {
		r.t.Fatalf("control page: %v", err)
	}
	if len(res.Violations) != 1 || res.Violations[0].ID != "image-alt" {
		r.t.Fatalf("control page: violations %+v, want image-alt only", res.Violations)
	}
}

// check loads p, then runs axe on it in every mode.
func (r *axeRun) check(p axePage) {
	t := r.t
	t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, emulateMedia(axeModes[0])); err != nil {
		t.Fatalf("%s: emulate: %v", p.name, err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(r.base+p.path))
	if err == nil && len(p.reach) > 0 {
		if p.inPage {
			err = chromedp.Do(ctx, p.reach...)
		} else {
			resp, err = chromedp.RunResponse(ctx, p.reach...)
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	want := p.status
	if want == 0 {
		want = 200
	}
	if int(resp.Status) != want {
		t.Fatalf("%s: %s answered %d, want %d", p.name, resp.URL, resp.Status, want)
	}
	ready := p.ready
	if ready == "" {
		ready = "main#main"
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		t.Fatalf("%s: %s not shown: %v", p.name, ready, err)
	}
	for _, c := range p.covers {
		r.covered[c] = true
	}
	r.pages++
	for _, mode := range axeModes {
		res, err := r.axe(ctx, mode)
		if err != nil {
			t.Fatalf("%s (%s): %v", p.name, mode, err)
		}
		r.runs++
		if len(res.Incomplete) > 0 {
			t.Logf("%s (%s): axe could not decide (needs review, not a failure): %s", p.name, mode, summarize(res.Incomplete))
		}
		if r.shots != "" || len(res.Violations) > 0 {
			r.screenshot(ctx, p.name+"-"+mode)
		}
		for _, v := range res.Violations {
			r.violations++
			fmt.Fprintf(&r.report, "%s (%s, %s): %s [%s] %s (%s)\n", p.name, mode, p.path, v.ID, v.Impact, v.Help, v.URL)
			for _, n := range v.Nodes {
				fmt.Fprintf(&r.report, "    %s\n      %s\n", n.Target, strings.ReplaceAll(n.Summary, "\n", "\n      "))
			}
		}
	}
}

// summarize counts the distinct reasons of undecided checks ("rule: reason").
func summarize(items []string) string {
	n := map[string]int{}
	var order []string
	for _, it := range items {
		if n[it]++; n[it] == 1 {
			order = append(order, it)
		}
	}
	parts := make([]string, 0, len(order))
	for _, it := range order {
		parts = append(parts, fmt.Sprintf("%s (×%d)", it, n[it]))
	}
	return strings.Join(parts, " | ")
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// screenshot keeps the page as seen (under SCREENSHOT_DIR, or
// testdata/screenshots for a page with violations).
func (r *axeRun) screenshot(ctx context.Context, name string) {
	dir := r.shots
	if dir == "" {
		dir = filepath.Join(screenshotDir(r.t), "axe")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			r.t.Fatal(err)
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		r.t.Fatalf("screenshot %s: %v", name, err)
	}
	file := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "-"), "-") + ".png"
	if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// axeFixtures are the objects the states are shown on.
type axeFixtures struct {
	// products: one to meet a conflict on, one deleted while edited, one
	// deleted through its confirmation, one with a change to revert
	conflict, deleted, removed, reverted int64
	key                                  int64 // an active API key of ana
}

// seedAccessibility fills every list: products over two pages, with low
// and out of stock, documents (the index pending), a clerk, an editor, a
// group, history with changes, and API keys (one revoked, one expiring).
func seedAccessibility(t *testing.T, ts *testServer, pw string) axeFixtures {
	t.Helper()
	var ana models.User
	if err := ts.store.DB.Where("username = ?", "ana").Take(&ana).Error; err != nil {
		t.Fatal(err)
	}
	ctx := models.WithActor(context.Background(), models.Actor{UserID: ana.ID, Username: ana.Username, Source: models.SourceAdmin})
	if _, err := ts.store.Seed(ctx, 60, 3); err != nil {
		t.Fatalf("seed: %v", err)
	}
	// Indexed, so that the playground answers from it (with sources).
	ts.createIndexedDoc("Bearer "+ts.login("ana", pw).AccessToken, "Política de devoluciones",
		"Las lámparas se devuelven en 30 días con el tique de compra. Los muebles montados no se devuelven.")
	ts.createStaff("clerk", "change_product", "view_product")
	ts.createUser("editor", true, false)
	if err := ts.store.Create(ctx, &models.Group{Name: "Clerks", Permissions: []string{"view_product", "change_product"}}); err != nil {
		t.Fatalf("group: %v", err)
	}
	var ids []int64
	for _, p := range []models.Product{
		{Name: "Producto en conflicto", Price: models.Cents(1000), Stock: 5},
		{Name: "Producto borrado", Price: models.Cents(1000), Stock: 5},
		{Name: "Producto eliminado", Price: models.Cents(1000), Stock: 5},
		{Name: "Lámpara de pie", Description: "Luz cálida", Price: models.Cents(32697), Stock: 0},
		{Name: "Mesa plegable", Price: models.Cents(8900), Stock: 3},
	} {
		if err := ts.store.Create(ctx, &p); err != nil {
			t.Fatalf("product %s: %v", p.Name, err)
		}
		// A change in every history: price and stock.
		v := p.Version
		p.Price, p.Stock = models.Cents(p.Price.CentsValue()+100), p.Stock+1
		if err := ts.store.Update(ctx, &p, v); err != nil {
			t.Fatalf("update %s: %v", p.Name, err)
		}
		ids = append(ids, p.ID)
	}
	soon := time.Now().Add(30 * 24 * time.Hour)
	key, _, err := ts.store.CreateAPIKey(ctx, ana.ID, "stock sync", models.ScopeReadOnly, &soon)
	if err != nil {
		t.Fatalf("api key: %v", err)
	}
	old, _, err := ts.store.CreateAPIKey(ctx, ana.ID, "old import", models.ScopeReadWrite, nil)
	if err != nil {
		t.Fatalf("api key: %v", err)
	}
	if _, err := ts.store.RevokeAPIKey(ctx, ana.ID, old.ID); err != nil {
		t.Fatal(err)
	}
	return axeFixtures{conflict: ids[0], deleted: ids[1], removed: ids[2], reverted: ids[3], key: key.ID}
}

// adminRoutePages turns every GET route into pages: a :model for each
// registered model, an :id for an object the parent page links to (the
// list for /admin/products/:id, the keys page for
// /admin/api-keys/:id/revoke). A page with filters is also checked
// filtered and searched, and with a search that finds nothing. Routes
// skip says (no page, or checked already) are left out.
func adminRoutePages(t *testing.T, client *browser, routes, slugs []string, skip func(route string) bool) []axePage {
	t.Helper()
	var pages []axePage
	for _, route := range routes {
		tmpl, ok := strings.CutPrefix(route, "GET ")
		if !ok || skip(route) {
			continue
		}
		paths := []string{tmpl}
		if strings.Contains(tmpl, ":model") {
			paths = nil
			for _, s := range slugs {
				paths = append(paths, strings.Replace(tmpl, ":model", s, 1))
			}
		}
		for _, path := range paths {
			if i := strings.Index(path, "/:id"); i >= 0 {
				path = path[:i] + "/" + linkedID(t, client, path[:i]) + path[i+len("/:id"):]
			}
			if strings.Contains(path, "/:") {
				t.Fatalf("%s: this test does not know how to fill in %s; teach adminRoutePages", route, path)
			}
			pages = append(pages, axePage{name: path, covers: []string{route}, path: path})
			pages = append(pages, listVariants(t, client, route, path)...)
		}
	}
	return pages
}

// linkedID is the id of an object the page at prefix links to
// (prefix/ID or prefix/ID/...).
func linkedID(t *testing.T, client *browser, prefix string) string {
	t.Helper()
	resp := client.get(prefix)
	wantStatus(t, resp, 200)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `/(\d+)(?:[/?#]|$)`)
	var id string
	parse(t, resp).Find("a[href]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if m := re.FindStringSubmatch(s.AttrOr("href", "")); m != nil {
			id = m[1]
			return false
		}
		return true
	})
	if id == "" {
		t.Fatalf("%s links to no object to check the pages of", prefix)
	}
	return id
}

// listVariants are the other states of a page with filters or a search:
// filtered and searched (for a word of its first row), and a search with
// no result.
func listVariants(t *testing.T, client *browser, route, path string) []axePage {
	t.Helper()
	resp := client.get(path)
	wantStatus(t, resp, 200)
	d := parse(t, resp)
	filter, filtered := d.Find("aside.filters a[href]").Not("[aria-current]").First().Attr("href")
	search := d.Find(`input[name="q"]`).Length() > 0
	if !filtered && !search {
		return nil
	}
	u, err := url.Parse(filter) // "" (this page) when there is no filter
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if w := strings.Fields(text(d.Find("#changelist tbody tr td a").First())); search && len(w) > 0 {
		q.Set("q", w[0])
	}
	u.RawQuery = q.Encode()
	var out []axePage
	if filtered || q.Get("q") != "" {
		if !filtered {
			u.Path = path
		}
		out = append(out, axePage{name: path + ": filtered and searched", covers: []string{route}, path: u.String()})
	}
	if search {
		out = append(out, axePage{name: path + ": nothing found", covers: []string{route},
			path: path + "?q=" + url.QueryEscape("zzz-nothing-matches"), ready: ".empty-state"})
	}
	return out
}

// adminStates are the pages only a POST (or a script) reaches, each
// covering the routes it answers.
func adminStates(ts *testServer, slugs []string, fx axeFixtures) []axePage {
	type steps = []chromedp.Action[chromedp.Void]
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
	set := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SetValue(chromedp.CSS(sel), v) }
	keys := func(sel, v string) chromedp.Action[chromedp.Void] { return chromedp.SendKeys(chromedp.CSS(sel), v) }
	// The browser's own checks would stop an empty form: the server's are checked.
	noValidate := chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('form').forEach(f => f.noValidate = true)`)
	var pages []axePage
	for _, slug := range slugs {
		list := "/admin/" + slug
		pages = append(pages,
			// The add form sent empty: errors beside the fields.
			axePage{name: list + "/new: errors", covers: []string{"POST /admin/:model/new"}, path: list + "/new", status: 422,
				ready: `[aria-invalid="true"]`, reach: steps{noValidate, click(`button[name="_save"]`)}},
			// The bulk delete confirmation, for one selected row.
			axePage{name: list + ": bulk delete confirmation", covers: []string{"POST /admin/:model/bulk"}, path: list,
				ready: ".confirm-card", reach: steps{click(`#bulk-form tbody input[name="ids"]`), set("#id_action", "delete"),
					click(`#bulk-form .bulk-bar button[type="submit"]`)}},
			// Every row selected (in the page).
			axePage{name: list + ": all rows selected", path: list, inPage: true, ready: "tr.selected",
				reach: steps{click("[data-select-all]")}},
		)
	}
	product := func(id int64) string { return "/admin/products/" + strconv.FormatInt(id, 10) }
	// change runs on the server while the browser has the form open: a
	// price set by someone else, or the product deleted.
	change := func(id int64, del bool) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(context.Context, *chromedp.Target) error {
			var p models.Product
			if err := ts.store.Get(context.Background(), &p, id); err != nil {
				return err
			}
			if del {
				return ts.store.Delete(context.Background(), &models.Product{}, id, p.Version)
			}
			v := p.Version
			p.Price = models.Cents(4321)
			return ts.store.Update(context.Background(), &p, v)
		})
	}
	key := "/admin/api-keys/" + strconv.FormatInt(fx.key, 10) + "/revoke"
	return append(pages,
		// Both changed the price: the merge screen with a choice.
		axePage{name: "conflict screen", covers: []string{"POST /admin/:model/:id"}, path: product(fx.conflict), status: 409,
			ready: "form .merge-choice", reach: steps{set("#id_price", "12.34"), change(fx.conflict, false), click(`button[name="_continue"]`)}},
		axePage{name: "deleted while editing", covers: []string{"POST /admin/:model/:id"}, path: product(fx.deleted), status: 404,
			ready: ".conflict.deleted", reach: steps{set("#id_stock", "7"), change(fx.deleted, true), click(`button[name="_continue"]`)}},
		// Notices after a redirect.
		axePage{name: "deleted: notice", covers: []string{"POST /admin/:model/:id/delete"}, path: product(fx.removed) + "/delete",
			ready: ".flash-success", reach: steps{click(`.confirm-card button[type="submit"]`)}},
		axePage{name: "reverted: notice", covers: []string{"POST /admin/:model/:id/history/:entry/revert"}, path: product(fx.reverted) + "/history",
			ready: ".flash-success", reach: steps{click(`.revert-form button[type="submit"]`)}},
		// Error pages inside the layout.
		axePage{name: "404 (no such object)", path: "/admin/products/999999", status: 404, ready: ".sidebar ~ main .error-card"},
		axePage{name: "404 (no such page)", path: "/admin/no-such-page", status: 404, ready: ".sidebar ~ main .error-card"},
		axePage{name: "403 (CSRF token refused)", path: "/admin/groups/new", status: 403, ready: ".sidebar ~ main .error-card",
			reach: steps{chromedp.Evaluate[chromedp.Void](`document.querySelector('form.model-form input[name="_csrf"]').value = 'forged'`),
				set("#id_name", "Forged"), click(`button[name="_save"]`)}},
		// A key just made, shown once; the form's errors; a revoke.
		axePage{name: "API keys: new key shown", covers: []string{"POST /admin/api-keys"}, path: "/admin/api-keys", ready: ".new-key #id_new_key",
			reach: steps{keys("#id_name", "nightly export"), click(`.api-key-form button[type="submit"]`)}},
		axePage{name: "API keys: form errors", covers: []string{"POST /admin/api-keys"}, path: "/admin/api-keys", status: 422,
			ready: `#id_name[aria-invalid="true"]`, reach: steps{noValidate, click(`.api-key-form button[type="submit"]`)}},
		axePage{name: "API keys: revoked notice", covers: []string{"POST /admin/api-keys/:id/revoke"}, path: key, ready: ".flash",
			reach: steps{click(`.confirm-card button[type="submit"]`)}},
		axePage{name: "account: wrong old password", covers: []string{"POST /admin/account/password"}, path: "/admin/account", status: 422,
			ready: `#id_old_password[aria-invalid="true"]`, reach: steps{keys("#id_old_password", "not-my-password"),
				keys("#id_new_password1", "a-new-password-0123"), keys("#id_new_password2", "a-new-password-0123"),
				click(`.password-form button[type="submit"]`)}},
		// The playground's error, from its stream endpoint (in the page).
		axePage{name: "chat playground: error", covers: []string{"POST /admin/chat/stream"}, path: "/admin/chat", inPage: true,
			ready: ".chat-error .chat-error-fields", reach: steps{
				chromedp.Evaluate[chromedp.Void](`document.querySelector('details.chat-settings').open = true`),
				set("#chat-temperature", "7"), keys("#chat-message", "¿Devoluciones?\r")}},
		// An answer of the built-in extractive model, with its sources.
		axePage{name: "chat playground: answer", covers: []string{"POST /admin/chat/stream"}, path: "/admin/chat", inPage: true,
			ready: ".chat-assistant .chat-sources a", reach: steps{keys("#chat-message", "¿En cuántos días se devuelven las lámparas?\r")}},
		// Last: signing out lands on the sign-in page with a notice.
		axePage{name: "signed out: notice", covers: []string{"POST /admin/logout"}, path: "/admin/", ready: ".login-card .flash-info",
			reach: steps{click(".topbar form button")}},
	)
}
