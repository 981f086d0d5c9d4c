package chat

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// NoModelNotice opens every extractive answer.
const NoModelNotice = "No language model is configured, so this answer quotes the most relevant passages of the documents instead of generating one."

// Extractive is the built-in offline provider: it answers by quoting the
// sentences of the retrieved passages that best match the question, each
// with its citation ([1], [2]... in the order of the sources), and says
// plainly that no language model is configured.
type Extractive struct {
	Tokens TokenCounter
	// MaxSentences quoted (default 3).
	MaxSentences int
}

// ExtractiveModel is the model name the extractive provider reports.
const ExtractiveModel = "extractive"

// Name implements Provider.
func (e *Extractive) Name() string { return "extractive" }

// DefaultModel implements Provider.
func (e *Extractive) DefaultModel() string { return ExtractiveModel }

// Models implements Provider.
func (e *Extractive) Models(context.Context) ([]string, error) { return []string{ExtractiveModel}, nil }

// Stream implements Provider: the answer is streamed word by word.
func (e *Extractive) Stream(ctx context.Context, req Completion, onDelta func(string) error) (Usage, error) {
	answer := e.Answer(req.Question, req.Sources)
	var usage Usage
	if e.Tokens != nil {
		usage.PromptTokens = e.Tokens.Count(req.Question)
		for _, c := range req.Sources {
			for _, s := range c.Passages() {
				usage.PromptTokens += e.Tokens.Count(s.Text)
			}
		}
		usage.CompletionTokens = e.Tokens.Count(answer)
	}
	for _, piece := range splitKeep(answer) {
		if err := ctx.Err(); err != nil {
			return usage, err
		}
		if err := onDelta(piece); err != nil {
			return usage, err
		}
	}
	return usage, nil
}

// Answer builds the extractive answer: sentences of a document's
// passages cite its number. With no sources it says the documents do not
// cover the question.
func (e *Extractive) Answer(question string, sources []Cited) string {
	max := e.MaxSentences
	if max <= 0 {
		max = 3
	}
	if len(sources) == 0 {
		return NotCovered + " No passage is relevant enough to quote.\n\n(No language model is configured: answers quote the documents.)"
	}
	q := map[string]bool{}
	for _, w := range Words(question) {
		if !stopWords[w] {
			q[stem(w)] = true
		}
	}
	type cand struct {
		text  string
		src   int
		score float64
		order int
	}
	var cands []cand
	order := 0
	// Neighbouring chunks of a document overlap: a sentence is quoted once.
	quoted := map[string]bool{}
	for i, c := range sources {
		for _, sent := range sentencesOf(c) {
			ws := Words(sent)
			if len(ws) < 3 || quoted[sent] {
				continue
			}
			quoted[sent] = true
			hits := map[string]bool{}
			for _, w := range ws {
				if st := stem(w); q[st] {
					hits[st] = true
				}
			}
			// distinct question words matched, a little bonus for higher-ranked sources
			score := float64(len(hits)) + 0.1/float64(i+1)
			cands = append(cands, cand{text: sent, src: i, score: score, order: order})
			order++
		}
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
	if len(cands) > max {
		cands = cands[:max]
	}
	var b strings.Builder
	b.WriteString(NoModelNotice)
	b.WriteString("\n\nMost relevant passages:\n")
	for _, c := range cands {
		fmt.Fprintf(&b, "\n> %s [%d]", c.text, c.src+1)
	}
	b.WriteString("\n\nSources:")
	for i, s := range sources {
		fmt.Fprintf(&b, "\n[%d] %s", i+1, s.Title)
	}
	return b.String()
}

func sentencesOf(c Cited) []string {
	var out []string
	for _, p := range c.Passages() {
		out = append(out, Sentences(p.Text)...)
	}
	return out
}

// splitKeep splits s into words keeping the separators, so that joining
// the pieces gives s back.
func splitKeep(s string) []string {
	var out []string
	start := 0
	for i, r := range s {
		if r == ' ' || r == '\n' {
			if i+1 > start {
				out = append(out, s[start:i+1])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be by can do does for from has have how i if in is it its
	of on or our that the their there this to was we what when where which who why will with you your me my
	about any all not no yes so than then them they us may should would could into out up down over`) {
		m[w] = true
	}
	return m
}()

// stem is a light English suffix stripper for matching and highlighting.
func stem(w string) string {
	for _, suf := range []string{"ing", "ies", "es", "ed", "s"} {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) {
			if suf == "ies" {
				return w[:len(w)-3] + "y"
			}
			return w[:len(w)-len(suf)]
		}
	}
	return w
}
