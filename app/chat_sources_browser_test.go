package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tienda/app/chat"
)

// TestChatPlaygroundSourcesInChromium drives the playground with the
// built-in (offline) provider: an off-topic question is answered "the
// documents do not cover" with no source listed; a question on a document
// with several matching chunks lists that document once, its other
// passages folded under a <details>, also after a reload.
func TestChatPlaygroundSourcesInChromium(t *testing.T) {
	bin := findChromium(t)
	ts := newTestServer(t, "sqlite")
	auth := ts.staffToken("ana")
	lamps := ts.createIndexedDoc(auth, "Lamps guide", lampsGuideDoc)
	ts.createIndexedDoc(auth, "Sofas", "Sofas can be returned within 14 days when unused. Sofa covers are final sale.")
	pw := ts.createUser("chatty", true, false)
	base := ts.listen()

	bctx := newBrowser(t, bin, chromedp.WindowSize(1280, 1000))
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/chat"), chromedp.WaitVisible("#id_username"),
		chromedp.SendKeys("#id_username", "chatty"), chromedp.SendKeys("#id_password", pw),
		chromedp.Click(`.login-card button[type="submit"]`), chromedp.WaitVisible("#chat-message")); err != nil {
		t.Fatalf("sign in and open the playground: %v", err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir(t), name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// lastAnswer waits for the n-th answer to be done and describes it.
	lastAnswer := func(n int) map[string]any {
		t.Helper()
		sel := fmt.Sprintf(".chat-assistant:nth-of-type(%d) .chat-meta", 2*n)
		if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
			t.Fatalf("answer %d: %v", n, err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(function(){
			var turns=document.querySelectorAll('.chat-assistant'); var last=turns[turns.length-1];
			var items=[].map.call(last.querySelectorAll('.chat-sources > li'), function(li){
				var d=li.querySelector('details.chat-more');
				return {title: li.querySelector('a').textContent, href: li.querySelector('a').getAttribute('href'),
					folded: d ? d.querySelectorAll('li').length : 0, open: d ? d.open : false,
					summary: d ? d.querySelector('summary').textContent : ''};
			});
			return {text: last.querySelector('.chat-text').textContent, sources: items,
				none: last.querySelector('.chat-no-sources') ? last.querySelector('.chat-no-sources').textContent : ''};})()`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// 1. Off-topic: the documents do not cover it, and no source is listed.
	if err := chromedp.Do(ctx, chromedp.SendKeys("#chat-message", offTopicQuestion), chromedp.Click("#chat-send")); err != nil {
		t.Fatal(err)
	}
	got := lastAnswer(1)
	if !strings.HasPrefix(fmt.Sprint(got["text"]), chat.NotCovered) || len(got["sources"].([]any)) != 0 ||
		!strings.Contains(fmt.Sprint(got["none"]), "No sources") || strings.Contains(fmt.Sprint(got["text"]), "[1]") {
		t.Fatalf("off-topic answer: %v", got)
	}
	shot("chat-off-topic.png")

	// 2. On topic: the lamps guide (three matching chunks) is listed once,
	// its two other passages folded.
	if err := chromedp.Do(ctx, chromedp.WaitEnabled("#chat-send"), chromedp.SendKeys("#chat-message", "Can lamps be returned?"),
		chromedp.Click("#chat-send")); err != nil {
		t.Fatal(err)
	}
	checkFolded := func(where string, got map[string]any) {
		t.Helper()
		guides := 0
		for _, s := range got["sources"].([]any) {
			src := s.(map[string]any)
			if src["href"] != fmt.Sprintf("/admin/documents/%d", lamps) {
				continue
			}
			guides++
			if src["folded"] != float64(2) || src["summary"] != "2 more passages from this document" {
				t.Fatalf("%s: the guide's other passages are not folded under it: %v", where, src)
			}
		}
		if guides != 1 || !strings.Contains(fmt.Sprint(got["text"]), "[1]") {
			t.Fatalf("%s: the lamps guide must be listed once (listed %d times): %v", where, guides, got)
		}
	}
	got = lastAnswer(2)
	checkFolded("answer", got)
	// Folded until asked for; opened, the passages show their matches.
	first := `document.querySelectorAll('.chat-assistant')[1].querySelector('details.chat-more')`
	closed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](first+`.open`))
	if err != nil || closed {
		t.Fatalf("the other passages must start folded (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(".chat-assistant:nth-of-type(4) details.chat-more summary")); err != nil {
		t.Fatal(err)
	}
	marks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(function(){var d=`+first+`;return d.open?d.querySelectorAll('li mark').length:-1;})()`))
	if err != nil || marks < 2 {
		t.Fatalf("opened, the folded passages show their matches: %d (%v)", marks, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById('chat-log').scrollTop = 1e6`)); err != nil {
		t.Fatal(err)
	}
	shot("chat-sources-folded.png")

	// 3. The kept conversation draws the sources the same way.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(".chat-assistant:nth-of-type(4) .chat-sources")); err != nil {
		t.Fatalf("reload: %v", err)
	}
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(function(){var t=document.querySelectorAll('.chat-assistant');
		return {none: t[0].querySelector('.chat-no-sources') !== null, items: t[1].querySelectorAll('.chat-sources > li').length,
			folded: t[1].querySelectorAll('details.chat-more li').length};})()`))
	if err != nil || kept["none"] != true || kept["folded"] != float64(2) || kept["items"] != float64(len(got["sources"].([]any))) {
		t.Fatalf("after a reload: %v (%v)", kept, err)
	}
}
