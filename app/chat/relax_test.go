package chat

import (
	"strings"
	"testing"
)

func TestRelaxations(t *testing.T) {
	cases := []struct {
		terms []string
		pg    bool
		want  []string
	}{
		{[]string{"lamp"}, true, []string{"(lamp)"}},
		{[]string{"lamp", "return"}, true, []string{"(lamp & return)", "lamp | return"}},
		{[]string{"a", "b", "c"}, true, []string{"(a & b & c)", "(b & c) | (a & c) | (a & b)", "a | b | c"}},
		{[]string{"a", "b", "c"}, false, []string{`("a" AND "b" AND "c")`, `("b" AND "c") OR ("a" AND "c") OR ("a" AND "b")`, `"a" OR "b" OR "c"`}},
		{strings.Fields("a b c d e f g"), true, []string{"(a & b & c & d & e & f & g)", "a | b | c | d | e | f | g"}},
	}
	for _, tc := range cases {
		got := relaxations(tc.terms, tc.pg)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%v pg=%v:\n got %q\nwant %q", tc.terms, tc.pg, got, tc.want)
		}
	}
}
