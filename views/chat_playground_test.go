package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

func TestChatPlaygroundRendersSafely(t *testing.T) {
	vm := ChatPlayground{
		StreamURL: "/admin/chat/stream", DocumentURLPrefix: "/admin/documents/",
		Models: []string{"gpt-4o-mini", `<script>alert(1)</script>`}, DefaultModel: "gpt-4o-mini",
		SystemPrompt: `</textarea><b>x</b>`, Temperature: 0.7, TopK: 5, MaxMessageChars: 4096,
		CSRFHeader: "X-Csrf-Token", CSRFToken: `tok"en`, ScriptURL: "/static/js/chat.js",
	}
	var buf bytes.Buffer
	ctx := templ.WithNonce(context.Background(), "n0nce")
	if err := ChatPlaygroundPage(vm).Render(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	attrs := func(n *html.Node) map[string]string {
		m := map[string]string{}
		for _, a := range n.Attr {
			m[a.Key] = a.Val
		}
		return m
	}
	var scripts, options, styled int
	var root, topk, msg map[string]string
	var selected string
	var system string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			a := attrs(n)
			if _, ok := a["style"]; ok {
				styled++
			}
			for k := range a {
				if strings.HasPrefix(k, "on") {
					t.Fatalf("inline handler %s", k)
				}
			}
			switch n.Data {
			case "style":
				styled++
			case "script":
				scripts++
				if a["src"] != "/static/js/chat.js" || a["nonce"] != "n0nce" || n.FirstChild != nil {
					t.Fatalf("script %v", a)
				}
			case "section":
				root = a
			case "option":
				options++
				if _, ok := a["selected"]; ok {
					selected = a["value"]
				}
			case "input":
				if a["name"] == "top_k" {
					topk = a
				}
			case "textarea":
				if a["name"] == "message" {
					msg = a
				}
				if a["name"] == "system_prompt" && n.FirstChild != nil {
					system = n.FirstChild.Data
				}
			case "b":
				t.Fatal("system prompt was rendered as HTML")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 || styled != 0 || options != 2 || selected != "gpt-4o-mini" {
		t.Fatalf("scripts %d styled %d options %d selected %q", scripts, styled, options, selected)
	}
	if root["data-stream-url"] != "/admin/chat/stream" || root["data-csrf-token"] != `tok"en` || root["data-document-url"] != "/admin/documents/" {
		t.Fatalf("root %v", root)
	}
	if topk["value"] != "5" || topk["min"] != "1" || topk["max"] != "50" || msg["maxlength"] != "4096" {
		t.Fatalf("inputs %v %v", topk, msg)
	}
	if system != `</textarea><b>x</b>` {
		t.Fatalf("system prompt text %q", system)
	}
	for _, id := range []string{`id="chat-stop"`, `id="chat-reset"`, `id="chat-log"`, `name="temperature"`} {
		if !strings.Contains(buf.String(), id) && !strings.Contains(renderString(t, vm), id) {
			t.Fatalf("missing %s", id)
		}
	}
}

func renderString(t *testing.T, vm ChatPlayground) string {
	t.Helper()
	var b bytes.Buffer
	if err := ChatPlaygroundPage(vm).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
