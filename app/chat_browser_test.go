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

	"tienda/app/chat/openaitest"
)

// TestChatPlaygroundInChromium drives the playground component and
// static/js/chat.js in headless Chromium against the real stream handler
// and the fake OpenAI server: tokens appear progressively, Stop cancels the
// upstream request, model text is inserted as text, sources link to the
// admin's document pages.
func TestChatPlaygroundInChromium(t *testing.T) {
	bin := findChromium(t)
	fake := openaitest.New()
	defer fake.Close()
	long := strings.Split(strings.Repeat("word ", 60), " ")
	fake.Push(openaitest.Reply{Tokens: long, Delay: 80 * time.Millisecond})
	fake.Push(openaitest.Reply{Tokens: []string{"Lamps: 30 days ", "<img src=x id=injected> ", "[1]."}, Delay: 20 * time.Millisecond})
	ts := newTestServer(t, "sqlite", withFakeLLM(fake, 5*time.Second))
	auth := ts.staffToken("ana")
	docID := ts.createIndexedDoc(auth, "Return policy", lampDoc)

	pw := ts.createUser("chatty", true, false)
	base := ts.listen()

	// Through the real admin: sign in, then open the playground.
	bctx := newBrowser(t, bin, chromedp.WindowSize(1280, 900))
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/admin/chat"), chromedp.WaitVisible("#id_username"),
		chromedp.SendKeys("#id_username", "chatty"), chromedp.SendKeys("#id_password", pw),
		chromedp.Click(`.login-card button[type="submit"]`), chromedp.WaitVisible("#chat-message")); err != nil {
		t.Fatalf("sign in and open the playground: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(".chat-settings summary"), chromedp.SetValue("#chat-temperature", "0.3"),
		chromedp.SetValue("#chat-topk", "3")); err != nil {
		t.Fatalf("settings: %v", err)
	}
	ctx, cancelRun := context.WithTimeout(bctx, 60*time.Second)
	defer cancelRun()
	answerLen := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(function(){var a=document.querySelectorAll('.chat-assistant .chat-text');return a.length?a[a.length-1].textContent.length:0;})()`))
		if err != nil {
			t.Fatalf("read the answer: %v", err)
		}
		return n
	}

	// 1. Ask; the answer grows while it streams; Stop cancels upstream.
	if err := chromedp.Do(ctx, chromedp.SendKeys("#chat-message", "Tell me everything"), chromedp.Click("#chat-send")); err != nil {
		t.Fatal(err)
	}
	var seen []int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n := answerLen(); n > 0 && (len(seen) == 0 || n != seen[len(seen)-1]) {
			seen = append(seen, n)
		}
		if len(seen) >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(seen) < 3 {
		t.Fatalf("the answer did not grow progressively: %v", seen)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#chat-stop")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fake.CancelledCh():
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not cancel the upstream generation")
	}
	stopped, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.chat-assistant .chat-meta') !== null && document.querySelector('.chat-assistant .chat-meta').textContent.indexOf('Stopped') === 0`))
	if err != nil || !stopped {
		t.Fatalf("the page does not say the answer was stopped (%v)", err)
	}

	// 2. Ask again: the answer completes, model text stays text, sources link to the admin.
	if err := chromedp.Do(ctx, chromedp.WaitEnabled("#chat-send"), chromedp.SendKeys("#chat-message", "How long to return a lamp?"), chromedp.Click("#chat-send"),
		chromedp.WaitVisible(".chat-assistant:nth-of-type(4) .chat-sources a")); err != nil {
		t.Fatalf("second answer: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(function(){
		var turns=document.querySelectorAll('.chat-assistant'); var last=turns[turns.length-1];
		return {text: last.querySelector('.chat-text').textContent, injected: document.getElementById('injected') !== null,
			href: last.querySelector('.chat-sources a').getAttribute('href'), meta: last.querySelector('.chat-meta').textContent,
			marks: last.querySelectorAll('.chat-snippet mark').length};})()`))
	if err != nil {
		t.Fatal(err)
	}
	if got["text"] != "Lamps: 30 days <img src=x id=injected> [1]." || got["injected"] != false {
		t.Fatalf("model text must be inserted as text: %v", got)
	}
	if got["href"] != fmt.Sprintf("/admin/documents/%d", docID) || !strings.Contains(fmt.Sprint(got["meta"]), "tokens") || got["marks"] == float64(0) {
		t.Fatalf("sources and usage: %v", got)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), "chat-playground.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	last := reqs[len(reqs)-1].Body
	if msgs, _ := last["messages"].([]any); len(msgs) < 3 || last["temperature"] != 0.3 {
		t.Fatalf("the conversation and settings were not sent upstream: %v", last)
	}
}
