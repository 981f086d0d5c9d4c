package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// browser is a cookie-keeping client of the admin through the real app:
// real sessions, real CSRF tokens taken from the pages it loads.
type browser struct {
	ts      *testServer
	cookies map[string]*http.Cookie
	csrf    string
	// header is sent with every request (e.g. X-Forwarded-Proto).
	header http.Header
}

func (ts *testServer) browser() *browser {
	return &browser{ts: ts, cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

func (b *browser) send(req *http.Request) *testResponse {
	b.ts.t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp := b.ts.request(req)
	for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
			continue
		}
		b.cookies[c.Name] = c
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if d, err := goquery.NewDocumentFromReader(bytes.NewReader(resp.Body)); err == nil {
			if tok, ok := d.Find(`input[name="_csrf"]`).First().Attr("value"); ok && tok != "" {
				b.csrf = tok
			}
		}
	}
	return resp
}

func (b *browser) get(path string) *testResponse {
	b.ts.t.Helper()
	return b.send(httptest.NewRequest("GET", path, nil))
}

// post sends a form with the current CSRF token, unless form sets _csrf
// itself (to test a wrong or missing one: "-" omits it).
func (b *browser) post(path string, form url.Values) *testResponse {
	b.ts.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	switch f.Get("_csrf") {
	case "":
		f.Set("_csrf", b.csrf)
	case "-":
		f.Del("_csrf")
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// login signs in through the form and fails the test unless it worked.
func (b *browser) login(username, password string) {
	b.ts.t.Helper()
	b.get("/admin/login")
	resp := b.post("/admin/login", url.Values{"username": {username}, "password": {password}})
	if resp.Status != http.StatusSeeOther {
		b.ts.t.Fatalf("login %s: %d %s", username, resp.Status, resp.Body)
	}
}

// staff creates a user and returns a browser signed in as them.
func (ts *testServer) signedIn(username string, superuser bool) *browser {
	ts.t.Helper()
	pw := ts.createUser(username, true, superuser)
	b := ts.browser()
	b.login(username, pw)
	return b
}

func parse(t testing.TB, r *testResponse) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return d
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func wantStatus(t testing.TB, r *testResponse, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %.600s", r.Status, want, r.Body)
	}
}

func location(r *testResponse) string { return r.Header.Get("Location") }

// formOf collects what a browser would submit from the form sel of d:
// inputs (checked boxes and radios only), textareas and selects; set then
// changes values, as typing would (a nil value unsets the field).
func formOf(d *goquery.Document, sel string, set map[string][]string) url.Values {
	out := url.Values{}
	f := d.Find(sel).First()
	f.Find("input[name], textarea[name], select[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		switch goquery.NodeName(s) {
		case "textarea":
			out.Add(name, s.Text())
		case "select":
			v := s.Find("option[selected]").AttrOr("value", s.Find("option").First().AttrOr("value", ""))
			out.Add(name, v)
		default:
			typ := s.AttrOr("type", "text")
			if typ == "submit" || typ == "button" {
				return
			}
			if typ == "checkbox" || typ == "radio" {
				if _, on := s.Attr("checked"); !on {
					return
				}
				out.Add(name, s.AttrOr("value", "on"))
				return
			}
			out.Add(name, s.AttrOr("value", ""))
		}
	})
	for k, v := range set {
		if v == nil {
			out.Del(k)
		} else {
			out[k] = v
		}
	}
	return out
}
