package models

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ncruces/go-sqlite3"
)

// Search folds case and accents in one function, search_fold, applied in
// SQL to both the searched columns and the words of q, so a word matches
// whatever the database folds to the same text:
//   - PostgreSQL: lower(unaccent('unaccent', x)), from migration 00005,
//     with trigram indexes over search_fold(column);
//   - SQLite: SearchFold below, registered on every connection.
//
// SearchFold uses PostgreSQL's own unaccent table (unaccent.rules, copied
// from PostgreSQL 15's contrib/unaccent, © The PostgreSQL Global Development
// Group, PostgreSQL License) and then Unicode simple lowercasing, which is
// what lower() does under a UTF-8 locale. Both databases therefore fold
// every character the same way (the PostgreSQL tests compare all code
// points up to U+2FFFF). Unicode decomposition (NFD, then dropping marks)
// was the other candidate; it disagrees with unaccent on about 15,000 code
// points (Hangul, Cyrillic й, ligatures, ø/ł/đ...), so it is not used.
//
//go:embed unaccent.rules
var unaccentRules string

// foldTable maps a character to its unaccented text, as unaccent.rules says.
var foldTable = sync.OnceValue(func() map[rune]string {
	m := make(map[rune]string, 1700)
	for line := range strings.SplitSeq(unaccentRules, "\n") {
		src, size := utf8.DecodeRuneInString(line)
		if line == "" || src == utf8.RuneError {
			continue
		}
		// PostgreSQL reads "char [whitespace target]"; an absent target
		// deletes the character (the combining marks), a quoted one may
		// hold spaces.
		trg := strings.TrimSpace(line[size:])
		if len(trg) >= 2 && trg[0] == '"' && trg[len(trg)-1] == '"' {
			trg = strings.ReplaceAll(trg[1:len(trg)-1], `""`, `"`)
		}
		m[src] = trg
	}
	return m
})

// SearchFold folds s for search: accents removed as PostgreSQL's unaccent
// does (ß becomes ss, æ ae, ł l), then lowercased. "LÁMPARA" and
// "lampara" fold alike. The folding is per character, so folding a word and
// folding a text that contains it agree.
func SearchFold(s string) string {
	if isFoldedASCII(s) {
		return s
	}
	return string(appendFold(make([]byte, 0, len(s)+8), s))
}

// appendFold appends the folding of s to buf: ASCII byte by byte (the
// common case, which unaccent.rules leaves alone), the rest through the
// table.
func appendFold[T string | []byte](buf []byte, s T) []byte {
	table := foldTable()
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		i += size
		if t, ok := table[r]; ok {
			for _, tr := range t {
				buf = utf8.AppendRune(buf, unicode.ToLower(tr))
			}
			continue
		}
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
	}
	return buf
}

// isFoldedASCII reports whether s is ASCII without capitals, which folds to
// itself (unaccent.rules maps no ASCII character): the common case is spared
// the table.
func isFoldedASCII[T string | []byte](s T) bool {
	for i := range len(s) {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// withSearchFold wraps the SQLite connection hook so that each new
// connection also gets search_fold.
func withSearchFold(next func(*sqlite3.Conn) error) func(*sqlite3.Conn) error {
	return func(c *sqlite3.Conn) error {
		if next != nil {
			if err := next(c); err != nil {
				return err
			}
		}
		return registerSearchFold(c)
	}
}

// registerSearchFold defines search_fold(x) on one SQLite connection.
// DETERMINISTIC lets SQLite fold a bound word once per statement, and
// INNOCUOUS allows the function in views and triggers.
func registerSearchFold(c *sqlite3.Conn) error {
	// A connection runs one statement at a time, so the function may keep
	// one buffer (SQLite copies the result out of it).
	var buf []byte
	err := c.CreateFunction("search_fold", 1, sqlite3.DETERMINISTIC|sqlite3.INNOCUOUS, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		switch arg[0].Type() {
		case sqlite3.NULL:
			ctx.ResultNull()
		default:
			if raw := arg[0].RawText(); isFoldedASCII(raw) {
				ctx.ResultRawText(raw)
			} else {
				buf = appendFold(buf[:0], raw)
				ctx.ResultRawText(buf)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("register search_fold: %w", err)
	}
	return nil
}

// Bounds of q: each word adds a condition per search field, and SQLite
// refuses LIKE patterns longer than 50,000 bytes.
const (
	MaxSearchWords  = 16
	MaxSearchLength = 200 // characters, as the OpenAPI document says
)

// TextProblem says what is wrong with user text that no database may see:
// PostgreSQL refuses NUL bytes and invalid UTF-8 in text with an error
// (which would be a 500), and SQLite would store them as they are.
// It returns "" for acceptable text.
func TextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	}
	return ""
}

// SearchWords splits q into the words of a search (at whitespace), or
// returns a *ValidationError on field "q".
func SearchWords(q string) ([]string, error) {
	if msg := TextProblem(q); msg != "" {
		return nil, FieldError("q", msg)
	}
	if utf8.RuneCountInString(q) > MaxSearchLength {
		return nil, FieldError("q", fmt.Sprintf("must be at most %d characters", MaxSearchLength))
	}
	words := strings.Fields(q)
	if len(words) > MaxSearchWords {
		return nil, FieldError("q", fmt.Sprintf("must have at most %d words", MaxSearchWords))
	}
	return words, nil
}

// foldedPattern is the LIKE pattern '%word%' for a bound word, folded in SQL
// by the same function as the columns. Wildcards are escaped after folding,
// since unaccent turns the fullwidth ％ and ＿ into % and _.
const foldedPattern = `'%' || replace(replace(replace(search_fold(?), '\', '\\'), '%', '\%'), '_', '\_') || '%'`
