// Package chat is Tienda's knowledge base and chat: chunking and indexing
// of documents, embedders, retrieval (keyword, semantic, hybrid), LLM
// providers and the chat service that streams grounded answers. It knows
// no HTTP: handlers in app/ translate its events to JSON or SSE.
package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ChunkOptions bound the size of chunks (in characters) and their overlap.
type ChunkOptions struct {
	MaxChars int // default 1200
	Overlap  int // characters carried over from the previous chunk; default 150
}

func (o ChunkOptions) norm() ChunkOptions {
	if o.MaxChars <= 0 {
		o.MaxChars = 1200
	}
	if o.Overlap < 0 || o.Overlap >= o.MaxChars/2 {
		o.Overlap = o.MaxChars / 8
	}
	if o.Overlap == 0 {
		o.Overlap = 150
		if o.Overlap >= o.MaxChars/2 {
			o.Overlap = o.MaxChars / 8
		}
	}
	return o
}

// Piece is one chunk of a document: the heading it sits under and its text.
type Piece struct {
	Heading string
	Text    string
}

// Split cuts text into chunks along headings (Markdown "#" lines) and
// paragraphs (blank lines), packing paragraphs up to MaxChars. A paragraph
// longer than that is cut at sentence, then word boundaries. Consecutive
// chunks under the same heading share Overlap characters of context.
func Split(text string, opt ChunkOptions) []Piece {
	opt = opt.norm()
	text = strings.ReplaceAll(text, "\r\n", "\n")
	type section struct {
		heading string
		paras   []string
	}
	var secs []section
	cur := section{}
	var para strings.Builder
	flush := func() {
		if p := strings.TrimSpace(para.String()); p != "" {
			cur.paras = append(cur.paras, p)
		}
		para.Reset()
	}
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "#"):
			flush()
			if len(cur.paras) > 0 || cur.heading != "" {
				secs = append(secs, cur)
			}
			cur = section{heading: strings.TrimSpace(strings.TrimLeft(t, "#"))}
		case t == "":
			flush()
		default:
			if para.Len() > 0 {
				para.WriteByte(' ')
			}
			para.WriteString(t)
		}
	}
	flush()
	if len(cur.paras) > 0 || cur.heading != "" {
		secs = append(secs, cur)
	}
	var out []Piece
	for _, s := range secs {
		var units []string
		for _, p := range s.paras {
			units = append(units, splitLong(p, opt.MaxChars-opt.Overlap-3)...)
		}
		if len(units) == 0 {
			if s.heading != "" {
				out = append(out, Piece{Heading: s.heading, Text: s.heading})
			}
			continue
		}
		var b strings.Builder
		prevTail := ""
		emit := func() {
			if b.Len() == 0 {
				return
			}
			body := b.String()
			out = append(out, Piece{Heading: s.heading, Text: body})
			prevTail = tail(body, opt.Overlap)
			b.Reset()
		}
		for _, u := range units {
			if b.Len() > 0 && b.Len()+2+len(u) > opt.MaxChars {
				emit()
			}
			if b.Len() == 0 && prevTail != "" && len(prevTail)+2+len(u) <= opt.MaxChars {
				b.WriteString(prevTail)
				b.WriteString(" … ")
			}
			if b.Len() > 0 && !strings.HasSuffix(b.String(), " … ") {
				b.WriteString("\n\n")
			}
			b.WriteString(u)
		}
		emit()
	}
	return out
}

// splitLong cuts a paragraph longer than max at sentence ends, then spaces,
// then runes.
func splitLong(p string, max int) []string {
	if len(p) <= max {
		return []string{p}
	}
	var out []string
	var b strings.Builder
	for _, s := range Sentences(p) {
		for len(s) > max {
			cut := strings.LastIndexByte(s[:max], ' ')
			if cut <= 0 {
				cut = max
				for cut > 0 && !utf8.RuneStart(s[cut]) {
					cut--
				}
			}
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
			out = append(out, strings.TrimSpace(s[:cut]))
			s = strings.TrimSpace(s[cut:])
		}
		if b.Len() > 0 && b.Len()+1+len(s) > max {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// tail returns about n characters from the end of s, starting at a word.
func tail(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return ""
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	if j := strings.IndexByte(s[i:], ' '); j >= 0 {
		i += j + 1
	}
	return strings.TrimSpace(s[i:])
}

// Sentences splits text after '.', '!' or '?' followed by a space.
func Sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if (r == '.' || r == '!' || r == '?' || r == '\n') && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])) {
			if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}
