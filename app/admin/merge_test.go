package admin

import "testing"

// TestMergeRules: the three-way merge of a form with a version saved
// meanwhile never reverts a field the user did not touch.
func TestMergeRules(t *testing.T) {
	names := []string{"name", "price", "stock", "description"}
	original := map[string]string{"name": "Lamp", "price": "326.97", "stock": "3", "description": "old"}
	cases := []struct {
		name    string
		mine    map[string]string
		theirs  map[string]string
		hasOrig bool
		want    map[string]Outcome
		result  map[string]string
	}{
		{
			// The case: the boss changed the price, the clerk the name.
			name:    "each side changed a different field",
			mine:    map[string]string{"name": "Lamp XL", "price": "326.97", "stock": "3", "description": "old"},
			theirs:  map[string]string{"name": "Lamp", "price": "11.11", "stock": "3", "description": "old"},
			hasOrig: true,
			want:    map[string]Outcome{"name": KeptMine, "price": TookTheirs, "stock": Unchanged, "description": Unchanged},
			result:  map[string]string{"name": "Lamp XL", "price": "11.11", "stock": "3", "description": "old"},
		},
		{
			name:    "both changed a field differently",
			mine:    map[string]string{"name": "Lamp", "price": "20.00", "stock": "3", "description": "old"},
			theirs:  map[string]string{"name": "Lamp", "price": "11.11", "stock": "3", "description": "old"},
			hasOrig: true,
			want:    map[string]Outcome{"price": Conflict, "name": Unchanged},
			result:  map[string]string{"price": "20.00"},
		},
		{
			name:    "both made the same change",
			mine:    map[string]string{"name": "Lamp", "price": "326.97", "stock": "0", "description": "old"},
			theirs:  map[string]string{"name": "Lamp", "price": "326.97", "stock": "0", "description": "old"},
			hasOrig: true,
			want:    map[string]Outcome{"stock": BothSame},
			result:  map[string]string{"stock": "0"},
		},
		{
			name:    "a field emptied by the other side is taken",
			mine:    map[string]string{"name": "Lamp", "price": "326.97", "stock": "3", "description": "old"},
			theirs:  map[string]string{"name": "Lamp", "price": "326.97", "stock": "3", "description": ""},
			hasOrig: true,
			want:    map[string]Outcome{"description": TookTheirs},
			result:  map[string]string{"description": ""},
		},
		{
			// A form without originals (from before this release): nothing
			// can be known to be untouched, so every difference is a choice.
			name:    "no originals",
			mine:    map[string]string{"name": "Lamp XL", "price": "326.97", "stock": "3", "description": "old"},
			theirs:  map[string]string{"name": "Lamp", "price": "11.11", "stock": "3", "description": "old"},
			hasOrig: false,
			want:    map[string]Outcome{"name": Conflict, "price": Conflict, "stock": Unchanged},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var has func(string) bool
			if !c.hasOrig {
				has = func(string) bool { return false }
			}
			got := map[string]FieldMerge{}
			for _, fm := range Merge(names, original, c.mine, c.theirs, has) {
				got[fm.Name] = fm
			}
			for n, want := range c.want {
				if got[n].Outcome != want {
					t.Errorf("%s: outcome %d, want %d", n, got[n].Outcome, want)
				}
			}
			for n, want := range c.result {
				if got[n].Result != want {
					t.Errorf("%s: result %q, want %q", n, got[n].Result, want)
				}
			}
			// Whatever the case, no field the user left alone ends with a
			// value other than the saved one.
			for _, n := range names {
				if c.hasOrig && c.mine[n] == original[n] && got[n].Result != c.theirs[n] {
					t.Errorf("%s: untouched by the user but merged to %q, saved %q", n, got[n].Result, c.theirs[n])
				}
			}
		})
	}
}
