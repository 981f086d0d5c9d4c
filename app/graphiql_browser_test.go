package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"tienda/models"
)

// TestGraphiQLRendersOfflineUnderCSP opens /api/graphiql in headless
// Chromium (no network but this server): GraphiQL renders from the
// vendored files under the page CSP, tells a visitor without credentials
// how to sign in instead of sending a request, then, with a token in its
// Headers tab, loads the schema and runs a query. The page must log no
// CSP violation, error or exception on the way.
func TestGraphiQLRendersOfflineUnderCSP(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, "sqlite")
	base := ts.listen()
	token := ts.staffToken("ivy")
	if err := ts.store.Create(t.Context(), &models.Product{Name: "Brass floor lamp", Price: models.Cents(12000), Stock: 2}); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, bin, chromedp.WindowSize(1400, 900))
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		// Errors, and anything about the CSP whatever its level. (GraphiQL's
		// own dialogs warn about their accessibility: not this page's doing.)
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				msg := string(a.Value) + a.Description
				if e.Type == "error" || strings.Contains(msg, "Content Security Policy") {
					problems = append(problems, "console."+string(e.Type)+": "+msg)
				}
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == "error" || strings.Contains(e.Entry.Text, "Content Security Policy") {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			problems = append(problems, "exception: "+msg)
		}
	}); err != nil {
		t.Fatal(err)
	}

	const (
		queryEditor   = `document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror`
		headersEditor = `document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror`
		result        = `document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()`
	)
	waitFor := func(what, js string) string {
		t.Helper()
		var out string
		ok := eventually(t, 20*time.Second, func() bool {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
			out = v
			return err == nil && v != ""
		})
		if !ok {
			png, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			_ = os.WriteFile(filepath.Join(screenshotDir(t), "graphiql-failed.png"), png, 0o644)
			t.Fatalf("%s: never (last %q); problems %v", what, out, problems)
		}
		return out
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/api/graphiql"), chromedp.WaitVisible(".graphiql-container"),
		chromedp.WaitVisible(".graphiql-query-editor .CodeMirror")); err != nil {
		t.Fatalf("GraphiQL page: %v", err)
	}
	// Without credentials the schema request is not sent: the page says
	// how to sign in.
	hint := waitFor("the sign-in hint", `(function(){var t=document.body.innerText;return t.indexOf('Sign in first')>=0?t:'';})()`)
	if !strings.Contains(hint, "Authorization") {
		t.Fatalf("hint: %.300q", hint)
	}

	// Sign in through the Headers tab, re-fetch the schema, run a query.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){`+headersEditor+`.setValue(JSON.stringify({Authorization: "`+token+`"}));
		`+queryEditor+`.setValue("query Lamps { products(q: \"lamp\") { total items { name price } } }"); return true;})()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`button[aria-label="Re-fetch GraphQL schema"]`)); err != nil {
		t.Fatal(err)
	}
	// The schema arrived: the query editor knows the fields (its linting
	// marks nothing), and the documentation explorer lists the root types.
	if err := chromedp.Do(ctx, chromedp.Click(`button[aria-label="Show Documentation Explorer"]`)); err != nil {
		t.Fatal(err)
	}
	waitFor("the schema in the documentation explorer", `(function(){var e=document.querySelector('.graphiql-doc-explorer');return e&&e.innerText.indexOf('Mutation')>=0?e.innerText:'';})()`)
	if err := chromedp.Do(ctx, chromedp.Click(`.graphiql-execute-button`)); err != nil {
		t.Fatal(err)
	}
	out := waitFor("the query's result", `(function(){var v=`+result+`;return v.indexOf('Brass floor lamp')>=0?v:'';})()`)
	if !strings.Contains(out, `"price": "120.00"`) || !strings.Contains(out, `"total": 1`) {
		t.Fatalf("result: %s", out)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), "graphiql.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	// A dialog adds a <style> element: it carries the page's nonce.
	if err := chromedp.Do(ctx, chromedp.Click(`button[aria-label="Open settings dialog"]`), chromedp.WaitVisible(`[role="dialog"]`)); err != nil {
		t.Fatal(err)
	}
	waitFor("a nonced style element", `(function(){var s=document.querySelectorAll('style');for(var i=0;i<s.length;i++){if(s[i].nonce)return 'yes';}return '';})()`)
	// The operation went through the real endpoint with the token.
	found := false
	for _, l := range ts.logLines() {
		if l["msg"] == "graphql operation" && l["operation"] == "Lamps" && l["outcome"] == "ok" {
			found = true
		}
	}
	if !found {
		t.Fatal("the query was not logged by the endpoint")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("page problems (CSP violations, errors): %v", problems)
	}
}
