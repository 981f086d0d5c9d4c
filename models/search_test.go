package models_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// searchCatalogue is the catalogue of the search tests: accents, ß, ñ, ç,
// æ, wildcards and a backslash, in names and descriptions.
var searchCatalogue = []models.Product{
	{Name: "Lámpara de pie", Description: "Luz cálida"},
	{Name: "LÁMPARA de mesa", Description: "De roble"},
	{Name: "Lampara sin tilde", Description: "Barata"},
	{Name: "Silla", Description: "Lámpara a juego no incluida"},
	{Name: "Straßenlaterne", Description: "Für draußen"},
	{Name: "Ñandú de peluche", Description: "Juguete"},
	{Name: "Garçon", Description: "Figura"},
	{Name: "Ærø souvenir", Description: "Island"},
	{Name: "Camiseta", Description: "100% algodón"},
	{Name: "Sábanas", Description: "1000 hilos"},
	{Name: "Cable a_b", Description: "Conector"},
	{Name: "Cable axb", Description: "Otro conector"},
	{Name: `Ruta C:\tmp`, Description: "Pegatina"},
}

// TestSearchMeansTheSameOnBothDialects runs one table of searches on every
// dialect: each word must match some field (AND of words, OR of fields),
// with case and accents folded alike, and user text never acting as a
// wildcard.
func TestSearchMeansTheSameOnBothDialects(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"pie lámpara", []string{"Lámpara de pie"}},
		{"LÁMPARA", []string{"Lámpara de pie", "LÁMPARA de mesa", "Lampara sin tilde", "Silla"}},
		{"lampara", []string{"Lámpara de pie", "LÁMPARA de mesa", "Lampara sin tilde", "Silla"}},
		{"la\u0301mpara mesa", []string{"LÁMPARA de mesa"}}, // a + combining acute
		{"roble lámpara", []string{"LÁMPARA de mesa"}},      // the words in different fields
		{"lámpara   zzz", nil},
		{"  de  ", []string{"Lámpara de pie", "LÁMPARA de mesa", "Lampara sin tilde", "Ñandú de peluche"}},
		{"STRASSEN", []string{"Straßenlaterne"}},
		{"straßen", []string{"Straßenlaterne"}},
		{"draussen", []string{"Straßenlaterne"}},
		{"nandu", []string{"Ñandú de peluche"}},
		{"ÑANDÚ", []string{"Ñandú de peluche"}},
		{"garcon", []string{"Garçon"}},
		{"AERO", []string{"Ærø souvenir"}},
		{"100%", []string{"Camiseta"}},
		{"100％", []string{"Camiseta"}}, // fullwidth %, folded to a literal %
		{"%", []string{"Camiseta"}},
		{"a_b", []string{"Cable a_b"}},
		{"a＿b", []string{"Cable a_b"}},
		{`c:\tmp`, []string{`Ruta C:\tmp`}},
		{`\`, []string{`Ruta C:\tmp`}},
	}
	results := map[string][][]string{}
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			ctx := context.Background()
			for _, p := range searchCatalogue {
				p.Price = models.Cents(100)
				if err := st.Create(ctx, &p); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range cases {
				page, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{Q: c.q, PageSize: 100})
				if err != nil {
					t.Fatalf("q=%q: %v", c.q, err)
				}
				var got []string
				for _, p := range page.Items {
					got = append(got, p.Name)
				}
				if !slices.Equal(got, c.want) || page.Total != int64(len(c.want)) {
					t.Errorf("q=%q: got %q (total %d), want %q", c.q, got, page.Total, c.want)
				}
				results[d] = append(results[d], got)
			}
			// An empty q lists everything.
			page, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{Q: " \t "})
			if err != nil || page.Total != int64(len(searchCatalogue)) {
				t.Fatalf("blank q: total %d, %v", page.Total, err)
			}
		})
	}
	if len(results) == 2 && !reflect.DeepEqual(results[models.SQLite], results[models.Postgres]) {
		t.Fatalf("dialects disagree:\nsqlite   %q\npostgres %q", results[models.SQLite], results[models.Postgres])
	}
}

func TestSearchFold(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Lámpara", "lampara"}, {"LÁMPARA", "lampara"}, {"la\u0301mpara", "lampara"},
		{"Straße", "strasse"}, {"STRASSE", "strasse"}, {"ẞ", "ss"}, {"Ñandú", "nandu"}, {"Garçon", "garcon"},
		{"Ærø", "aero"}, {"Łódź", "lodz"}, {"Œuvre", "oeuvre"}, {"Þór", "thor"}, {"İstanbul", "istanbul"},
		{"½", "1/2"}, {"％＿", "%_"}, {"Ελλάδα", "ελλαδα"}, {"Йогурт", "йогурт"}, // unaccent keeps й
		{"plain ascii", "plain ascii"}, {"", ""},
	}
	for _, c := range cases {
		if got := models.SearchFold(c.in); got != c.want {
			t.Errorf("SearchFold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func BenchmarkSearchFold(b *testing.B) {
	s := "Artículo 12345 de la categoría 45, código f1887d3f: una descripción sencilla de unos cien caracteres."
	for b.Loop() {
		_ = models.SearchFold(s)
	}
}

// TestSearchFoldAgreesWithPostgres compares the Go fold (SQLite's
// search_fold) with PostgreSQL's search_fold on every code point of the
// first three planes, one character at a time (the fold works per
// character, so this covers every text).
func TestSearchFoldAgreesWithPostgres(t *testing.T) {
	if !slices.Contains(testdb.Dialects(), models.Postgres) {
		t.Skip("TEST_DATABASE_URL not set")
	}
	db := testdb.Open(t, models.Postgres)
	rows, err := db.Raw(`SELECT i, search_fold(chr(i)) FROM generate_series(1, 196607) AS i
		WHERE i NOT BETWEEN 55296 AND 57343`).Rows() // no surrogates
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	var diffs []string
	for rows.Next() {
		var i rune
		var pg string
		if err := rows.Scan(&i, &pg); err != nil {
			t.Fatal(err)
		}
		n++
		if got := models.SearchFold(string(i)); got != pg {
			diffs = append(diffs, fmt.Sprintf("U+%04X %q: postgres %q, go %q", i, string(i), pg, got))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 190000 || len(diffs) > 0 {
		t.Fatalf("%d code points, %d differ:\n%s", n, len(diffs), strings.Join(diffs[:min(len(diffs), 40)], "\n"))
	}
}

// TestSearchRefusesTextNoDatabaseMaySee: NUL bytes and invalid UTF-8 in q
// are the client's mistake (422 on field "q"), not a database error (500),
// and so are unbounded searches.
func TestSearchRefusesTextNoDatabaseMaySee(t *testing.T) {
	cases := []struct{ q, want string }{
		{"lámpara\x00", "must not contain NUL bytes"},
		{"l\xe1mpara", "must be valid UTF-8"},
		{strings.Repeat("a ", 17), "must have at most 16 words"},
		{strings.Repeat("á", 201), "must be at most 200 characters"},
	}
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			ctx := context.Background()
			for _, c := range cases {
				_, err := models.List[models.Product](ctx, db, models.ProductList, models.ListParams{Q: c.q})
				var ve *models.ValidationError
				if !errors.As(err, &ve) || ve.Fields["q"] != c.want {
					t.Errorf("List q=%q: %v, want q: %s", c.q, err, c.want)
				}
				// Search alone (the admin's CSV export) refuses it too.
				var rows []models.Product
				err = models.ProductList.Search(db.WithContext(ctx).Table("products"), c.q).Find(&rows).Error
				if !errors.As(err, &ve) || ve.Fields["q"] != c.want {
					t.Errorf("Search q=%q: %v, want q: %s", c.q, err, c.want)
				}
			}
		})
	}
}
