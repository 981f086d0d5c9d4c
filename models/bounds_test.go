package models_test

import (
	"context"
	"errors"
	"math/big"
	"reflect"
	"testing"

	"tienda/models"
	"tienda/models/testdb"
)

// TestProductBounds: the business bounds of price and stock are in the
// tags, reported readably (amounts, not cents), and given to the HTML
// inputs and OpenAPI through Rules.
func TestProductBounds(t *testing.T) {
	v := models.NewValidator()
	cases := []struct {
		name string
		p    models.Product
		want map[string]string
	}{
		{"at the maxima", models.Product{Name: "x", Price: models.Cents(9_999_999_999), Stock: 1_000_000_000}, nil},
		{"at the minima", models.Product{Name: "x", Price: models.Cents(0), Stock: 0}, nil},
		{"past the maxima", models.Product{Name: "x", Price: models.Cents(10_000_000_000), Stock: 1_000_000_001},
			map[string]string{"price": "must be 99999999.99 or less", "stock": "must be 1000000000 or less"}},
		{"below the minima", models.Product{Name: "x", Price: models.Cents(-1), Stock: -1},
			map[string]string{"price": "must be 0 or more", "stock": "must be 0 or more"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Struct(&c.p)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ve *models.ValidationError
			if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Fields, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	typ := reflect.TypeFor[models.Product]()
	for field, want := range map[string]string{"Price": "99999999.99", "Stock": "1000000000"} {
		f, _ := typ.FieldByName(field)
		var got []string
		for _, r := range models.Rules(f) {
			if r.Tag == "lte" || r.Tag == "max" {
				got = append(got, r.Param)
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("Rules(%s) maxima = %q, want %q", field, got, want)
		}
	}
}

// TestStockValueByBandAtTheMaxima: the dashboard's sum of price × stock
// per band is exact at the validated bounds, where one product alone
// exceeds int64, on both dialects.
func TestStockValueByBandAtTheMaxima(t *testing.T) {
	bands := []models.PriceBand{{Lo: 0, Hi: 1000}, {Lo: 1000, Hi: 5000}, {Lo: 5000, Hi: 100000}, {Lo: 100000}}
	for _, d := range testdb.Dialects() {
		t.Run(d, func(t *testing.T) {
			db := testdb.Open(t, d)
			st := models.NewStore(db)
			ctx := context.Background()
			products := []models.Product{
				{Name: "cheap", Price: models.Cents(999), Stock: 3},                 // band 0: 2,997
				{Name: "cheap, none", Price: models.Cents(0), Stock: 1_000_000_000}, // band 0: 0
				{Name: "mid", Price: models.Cents(1000), Stock: 1},                  // band 1: 1,000
				{Name: "top", Price: models.Cents(9_999_999_999), Stock: 1_000_000_000},
				{Name: "top too", Price: models.Cents(9_999_999_999), Stock: 1_000_000_000},
				{Name: "top, one", Price: models.Cents(9_999_999_999), Stock: 1},
			}
			for i := range products {
				if err := st.Create(ctx, &products[i]); err != nil {
					t.Fatal(err)
				}
			}
			got, err := models.StockValueByBand(ctx, db, bands)
			if err != nil {
				t.Fatal(err)
			}
			top, _ := new(big.Int).SetString("19999999998000000000", 10) // 2 × 9,999,999,999 × 10^9
			top.Add(top, big.NewInt(9_999_999_999))
			want := []*big.Int{big.NewInt(2997), big.NewInt(1000), big.NewInt(0), top}
			if len(got) != len(want) {
				t.Fatalf("got %d bands", len(got))
			}
			for i := range want {
				if got[i].Cmp(want[i]) != 0 {
					t.Errorf("band %d: %s cents, want %s", i, got[i], want[i])
				}
			}
		})
	}
}
