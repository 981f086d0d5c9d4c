package admin

// The conflict merge: a change form carries the values it was loaded with
// (hidden "_orig_" inputs). When the object was saved by someone else
// meanwhile, the form is merged three ways against the saved version, so
// no one's work is lost: a field only the other side changed takes the
// saved value, a field only this user changed keeps theirs, and a field
// both changed differently is shown side by side for the user to choose
// (keep mine / keep theirs). Saving applies exactly those values against
// the new version, which conflicts again if it moved meanwhile.

// Form inputs of the merge, beside the fields' own names.
const (
	origPrefix   = "_orig_"   // the value the form was loaded with
	minePrefix   = "_mine_"   // the user's value of a conflicting field
	choicePrefix = "_choice_" // "mine" or "theirs" for a conflicting field
	chooseMine   = "mine"
	chooseTheirs = "theirs"
)

// Outcome is what the merge did with one field.
type Outcome int

// Outcomes of a field's merge.
const (
	// Unchanged: nobody changed it.
	Unchanged Outcome = iota
	// TookTheirs: only the other side changed it; the saved value is kept.
	TookTheirs
	// KeptMine: only this user changed it; the user's value is kept.
	KeptMine
	// BothSame: both changed it to the same value.
	BothSame
	// Conflict: both changed it differently; the user must choose.
	Conflict
)

// FieldMerge is one field's three values and the merge's outcome.
type FieldMerge struct {
	Name     string
	Original string
	Mine     string
	Theirs   string
	// Result is the merged value (Mine for a Conflict until one is chosen).
	Result  string
	Outcome Outcome
}

// Merge merges each named field of mine (the form) and theirs (the saved
// version) against original (what the form was loaded with). Values are
// compared as the form shows them (canonical: parsed and formatted again).
// A field with no original (hasOrig false: an old form) can only be
// merged when both sides agree; otherwise it is a conflict.
func Merge(names []string, original, mine, theirs map[string]string, hasOrig func(name string) bool) []FieldMerge {
	out := make([]FieldMerge, 0, len(names))
	for _, n := range names {
		fm := FieldMerge{Name: n, Original: original[n], Mine: mine[n], Theirs: theirs[n]}
		known := hasOrig == nil || hasOrig(n)
		switch {
		case fm.Mine == fm.Theirs && (!known || fm.Mine == fm.Original):
			fm.Result, fm.Outcome = fm.Mine, Unchanged
		case fm.Mine == fm.Theirs:
			fm.Result, fm.Outcome = fm.Mine, BothSame
		case known && fm.Mine == fm.Original:
			fm.Result, fm.Outcome = fm.Theirs, TookTheirs
		case known && fm.Theirs == fm.Original:
			fm.Result, fm.Outcome = fm.Mine, KeptMine
		default:
			fm.Result, fm.Outcome = fm.Mine, Conflict
		}
		out = append(out, fm)
	}
	return out
}
