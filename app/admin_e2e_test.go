package app

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"tienda/models"
)

// findChromium returns the browser binary (CHROMIUM_PATH, or Debian's chromium).
func findChromium(t *testing.T) string {
	t.Helper()
	return findTool(t, "chromium", "apt-get install -y chromium", os.Getenv("CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome")
}

// findTool returns the first of names found on PATH (or as a path). Without
// one, a test may skip on a developer's machine, but never in CI (CI set),
// where .ci/run installs it: there it fails, saying how to install it.
func findTool(t testing.TB, what, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if n == "" {
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found and CI is set: %s", what, install)
	}
	t.Skipf("%s not found (%s); this test never skips when CI is set", what, install)
	return ""
}

// newBrowser starts headless Chromium the way this machine needs it (root:
// no sandbox; no network: no background services) with a fresh profile,
// closed when the test ends. Every navigation to anything but 127.0.0.1
// goes to a dead proxy, so pages prove they need no outside host.
func newBrowser(t *testing.T, bin string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("proxy-server", "127.0.0.1:9"), chromedp.Flag("proxy-bypass-list", "127.0.0.1"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// screenshotDir is where the browser test leaves its screenshots
// (git-ignored): SCREENSHOT_DIR, or app/testdata/screenshots.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	return dir
}

// TestAdminInBrowser drives the admin in headless Chromium against a real
// listener: sign in, create a product (fixing a validation error), search,
// sort, edit, meet a conflict from a second session, delete, sign out.
func TestAdminInBrowser(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, models.SQLite)
	pw := ts.createUser("ana", true, true)
	seedProducts(t, ts,
		models.Product{Name: "Silla de roble", Description: "Madera maciza", Price: models.Cents(4500), Stock: 40},
		models.Product{Name: "Mesa plegable", Price: models.Cents(8900), Stock: 3},
		models.Product{Name: "Lámpara de pie", Price: models.Cents(2999), Stock: 0},
	)
	if err := ts.store.Create(context.Background(), &models.Document{Title: "Política de devoluciones", Content: "30 días."}); err != nil {
		t.Fatal(err)
	}
	base := ts.listen()

	ctx := newBrowser(t, bin, chromedp.WindowSize(1280, 900))
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	shots := screenshotDir(t)

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(s), " ")
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatalf("eval %s: %v", js, err)
		}
		return n
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Sign in, landing back where we were going.
	step("open", chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#id_username")))
	shot("login")
	step("sign in",
		chromedp.SendKeys(chromedp.CSS("#id_username"), "ana"),
		chromedp.SendKeys(chromedp.CSS("#id_password"), pw),
		chromedp.Click(chromedp.CSS(`.login-card button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#changelist")))
	if !strings.HasSuffix(location(), "/admin/products") {
		t.Fatalf("after sign-in at %s", location())
	}
	step("dashboard", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS("svg.bar-chart")))
	shot("dashboard")

	// Create, with a validation error first: a blank name passes the
	// browser's `required` but not the server's rules.
	step("new product", chromedp.Navigate(base+"/admin/products/new"), chromedp.WaitVisible(chromedp.CSS("#id_name")),
		chromedp.SendKeys(chromedp.CSS("#id_name"), "   "),
		chromedp.SendKeys(chromedp.CSS("#id_price"), "12.50"),
		chromedp.SetValue(chromedp.CSS("#id_stock"), "4"),
		chromedp.Click(chromedp.CSS(`button[name="_save"]`)),
		chromedp.WaitVisible(chromedp.CSS("#id_name_error")))
	if got := textOf("#id_name_error"); got != "Name is required." {
		t.Fatalf("name error %q", got)
	}
	shot("form-error")
	step("fix and save",
		chromedp.SetValue(chromedp.CSS("#id_name"), "Lámpara E2E"),
		chromedp.Click(chromedp.CSS(`button[name="_save"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := textOf(".flash-success"); got != "The product “Lámpara E2E” was added." {
		t.Fatalf("flash %q", got)
	}

	// Search as you type (htmx swaps the list without a reload).
	step("search", chromedp.SendKeys(chromedp.CSS("#id_q"), "e2e"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#changelist tbody tr').length === 1`, chromedp.WithPollingTimeout(10*time.Second)))
	if got := textOf("#changelist tbody tr td:nth-child(2)"); got != "Lámpara E2E" {
		t.Fatalf("search found %q", got)
	}
	if !strings.Contains(location(), "q=e2e") {
		t.Fatalf("search URL not pushed: %s", location())
	}

	// Sort by price, ascending then descending.
	step("sort", chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#changelist")),
		chromedp.Click(chromedp.CSS(`th a[href*="o=price"]`)), chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)))
	if got := textOf("#changelist tbody tr:first-child td:nth-child(2)"); got != "Lámpara E2E" {
		t.Fatalf("cheapest first: %q", got)
	}
	step("sort desc", chromedp.Click(chromedp.CSS(`th[aria-sort="ascending"] a`)), chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)))
	if got := textOf("#changelist tbody tr:first-child td:nth-child(2)"); got != "Mesa plegable" {
		t.Fatalf("dearest first: %q", got)
	}
	shot("list")
	// Dark mode follows the system; the layout folds on a phone.
	colorScheme := func(scheme string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia,
				emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		})
	}
	step("dark", colorScheme("dark"), chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS("svg.bar-chart")))
	shot("dashboard-dark")
	step("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#changelist")))
	shot("list-phone-dark")
	step("desktop light", colorScheme("light"), chromedp.EmulateViewport(1280, 900))

	// Edit it.
	var p models.Product
	if err := ts.store.DB.Where("name = ?", "Lámpara E2E").Take(&p).Error; err != nil {
		t.Fatal(err)
	}
	objURL := base + "/admin/products/" + strconv.FormatInt(p.ID, 10)
	step("edit", chromedp.Navigate(objURL), chromedp.WaitVisible(chromedp.CSS("#id_stock")),
		chromedp.SetValue(chromedp.CSS("#id_stock"), "9"),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	shot("form")

	// A second session (another member of staff) saves first.
	other := ts.browser()
	other.login("ana", pw)
	ver := parse(t, other.get("/admin/products/"+strconv.FormatInt(p.ID, 10))).Find(`input[name="version"]`).AttrOr("value", "")
	resp := other.post("/admin/products/"+strconv.FormatInt(p.ID, 10), url.Values{"version": {ver}, "name": {"Lámpara E2E"}, "price": {"15.00"}, "stock": {"9"}})
	if resp.Status != 303 {
		t.Fatalf("second session save: %d", resp.Status)
	}
	step("conflict", chromedp.SetValue(chromedp.CSS("#id_price"), "13.75"),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)),
		chromedp.WaitVisible(chromedp.CSS(".conflict")))
	// Both changed the price: a choice (the merge is in TestConflictMergeInBrowser).
	if n := eval(`document.querySelectorAll('.merge-choice').length`); n != 1 {
		t.Fatalf("%d choices", n)
	}
	shot("conflict")
	step("keep mine", chromedp.Click(chromedp.CSS(`input[name="_choice_price"][value="mine"]`)),
		chromedp.Click(chromedp.CSS(`button[name="_continue"]`)), chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	ts.store.DB.Take(&p, p.ID)
	if p.Price.String() != "13.75" {
		t.Fatalf("re-applied price %s", p.Price)
	}

	step("history", chromedp.Navigate(objURL+"/history"), chromedp.WaitVisible(chromedp.CSS("table.history")))
	if n := eval(`document.querySelectorAll('table.history tbody tr').length`); n != 4 {
		t.Fatalf("%d history rows", n)
	}
	shot("history")
	step("users", chromedp.Navigate(base+"/admin/users/new"), chromedp.WaitVisible(chromedp.CSS("#id_password")))
	shot("user-form")

	// Delete it, through the confirmation page.
	step("back to the product", chromedp.Navigate(objURL), chromedp.WaitVisible(chromedp.CSS(".delete-link")))
	step("delete", chromedp.Click(chromedp.CSS(".delete-link")), chromedp.WaitVisible(chromedp.CSS(".confirm-card")),
		chromedp.Click(chromedp.CSS(`.confirm-card button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(".flash-success")))
	if got := textOf(".flash-success"); got != "The product “Lámpara E2E” was deleted." {
		t.Fatalf("delete flash %q", got)
	}
	if err := ts.store.Get(context.Background(), &models.Product{}, p.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("still there: %v", err)
	}

	// Sign out.
	step("sign out", chromedp.Click(chromedp.CSS(".topbar form button")), chromedp.WaitVisible(chromedp.CSS(".login-card")))
	if got := textOf(".login-card .flash-info"); got != "You have been signed out." {
		t.Fatalf("sign-out notice %q", got)
	}
	step("signed out for real", chromedp.Navigate(base+"/admin/products"), chromedp.WaitVisible(chromedp.CSS("#id_username")))
}
