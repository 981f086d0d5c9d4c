package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestDocsPageRendersOfflineUnderCSP opens /api/docs in headless Chromium
// (no network but this server) and checks that Swagger UI renders the
// document and that the page logs no CSP violation or error.
func TestDocsPageRendersOfflineUnderCSP(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, "sqlite")
	base := ts.listen()

	ctx := newBrowser(t, bin)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	// Start the browser before listening (Listen needs a target).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if string(e.Type) == "error" {
				for _, a := range e.Args {
					problems = append(problems, "console: "+string(a.Value)+a.Description)
				}
			}
		case *cdplog.EventEntryAdded:
			if string(e.Entry.Level) == "error" {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/api/docs"),
		chromedp.WaitVisible(".swagger-ui .info .title"),
		chromedp.WaitVisible(".opblock-summary-path"),
	)
	if err != nil {
		t.Fatalf("docs page: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(".swagger-ui .info .title"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := chromedp.Run(ctx, chromedp.Text(".swagger-ui"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Tienda API") || !strings.Contains(ops, "/api/v1/products/{id}") {
		t.Fatalf("rendered title %q, operations %.200q", title, ops)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("page problems (CSP violations, errors): %v", problems)
	}
}
