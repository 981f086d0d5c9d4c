package admin

import "testing"

// TestCountLabel: exact counts grouped, estimates short and flagged.
func TestCountLabel(t *testing.T) {
	cases := []struct {
		n        int64
		estimate bool
		want     string
	}{
		{1204, false, "1,204"}, {0, false, "0"}, {812, true, "≈812"}, {1204, true, "≈1.2k"},
		{12000, true, "≈12k"}, {999_949, true, "≈999.9k"}, {999_950, true, "≈1M"}, {2_345_678, true, "≈2.3M"},
		{-1, true, "?"},
	}
	for _, c := range cases {
		got, title := countLabel(c.n, c.estimate)
		if got != c.want || (c.estimate != (title != "")) {
			t.Errorf("countLabel(%d, %v) = %q, %q; want %q", c.n, c.estimate, got, title, c.want)
		}
	}
}
