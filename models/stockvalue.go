package models

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"gorm.io/gorm"
)

// PriceBand is a range of prices [Lo, Hi) in cents; Hi <= 0 means no upper
// bound.
type PriceBand struct {
	Lo, Hi int64
}

// StockValueByBand sums price × stock, in cents, over the products of each
// band, in one grouped scan; a product counts in the first band that holds
// its price. The result has one value per band, in order (0 for an empty
// band).
//
// The sums are exact decimal arithmetic, never int64 or float: at the
// validated bounds one product alone is worth 9,999,999,999 cents ×
// 1,000,000,000 units, past int64's 9.2 × 10^18. PostgreSQL sums in
// NUMERIC; SQLite uses its decimal extension (decimal_mul, decimal_sum,
// compiled into the ncruces build), so both answer decimal text, returned
// as *big.Int (its cost against the int64 SUM it replaces is in
// docs/benchmarks.md).
func StockValueByBand(ctx context.Context, db *gorm.DB, bands []PriceBand) ([]*big.Int, error) {
	out := make([]*big.Int, len(bands))
	for i := range out {
		out[i] = new(big.Int)
	}
	if len(bands) == 0 {
		return out, nil
	}
	var band strings.Builder
	var args []any
	band.WriteString("CASE")
	for i, b := range bands {
		// Money binds as each dialect stores prices (NUMERIC or cents).
		band.WriteString(" WHEN price >= ?")
		args = append(args, Cents(b.Lo))
		if b.Hi > 0 {
			band.WriteString(" AND price < ?")
			args = append(args, Cents(b.Hi))
		}
		fmt.Fprintf(&band, " THEN %d", i)
	}
	band.WriteString(" END")
	value := "decimal_sum(decimal_mul(price, stock))"
	if Dialect(db) == Postgres {
		value = "TRUNC(SUM(price * 100 * stock))::text" // price is NUMERIC(12,2): × 100 is exact cents
	}
	q := "SELECT band, " + value + " AS value FROM (SELECT " + band.String() +
		" AS band, price, stock FROM products) banded WHERE band IS NOT NULL GROUP BY band"
	var rows []struct {
		Band  int
		Value string
	}
	if err := db.WithContext(ctx).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("stock value by band: %w", err)
	}
	for _, r := range rows {
		if r.Band < 0 || r.Band >= len(out) {
			continue
		}
		if _, ok := out[r.Band].SetString(r.Value, 10); !ok {
			return nil, fmt.Errorf("stock value by band: unexpected sum %q", r.Value)
		}
	}
	return out, nil
}
