package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// seedBase matches ../shared/peers/seed.py, so that benchmarks of Tienda
// and of the peers run over identical rows.
var seedBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// SeedProduct returns the i-th deterministic demo product (1-based), the
// same values as the peers' seed.py.
func SeedProduct(i int64) Product {
	ts := seedBase.Add(time.Duration(i) * time.Second)
	return Product{
		ID:   i,
		Name: fmt.Sprintf("Product %06d", i),
		Description: fmt.Sprintf("Seeded product %d, category %d: a plain description of "+
			"about a hundred characters, like a shop would have.", i, i%50),
		Price:     Cents(((i * 7919) % 100000) + 99),
		Stock:     (i * 37) % 1000,
		Version:   1,
		CreatedAt: ts,
		UpdatedAt: ts,
	}
}

// SeedResult says what a seed run added.
type SeedResult struct {
	Products  int64
	Documents int64
}

// Seed adds demo products with ids 1..products and the demo documents; rows
// that exist are left alone, so running it twice changes nothing.
func (s *Store) Seed(ctx context.Context, products, documents int) (SeedResult, error) {
	var res SeedResult
	db := s.DB.WithContext(ctx)
	const batch = 1000
	for start := int64(1); start <= int64(products); start += batch {
		end := min(start+batch-1, int64(products))
		rows := make([]Product, 0, end-start+1)
		for i := start; i <= end; i++ {
			rows = append(rows, SeedProduct(i))
		}
		r := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows)
		if r.Error != nil {
			return res, fmt.Errorf("seed products: %w", r.Error)
		}
		res.Products += r.RowsAffected
	}
	docs := DemoDocuments(documents)
	for i := range docs {
		d := docs[i]
		var n int64
		if err := db.Model(&Document{}).Where("title = ?", d.Title).Count(&n).Error; err != nil {
			return res, fmt.Errorf("seed documents: %w", err)
		}
		if n > 0 {
			continue
		}
		if err := s.Create(WithActor(ctx, Actor{Username: "seed", Source: SourceSystem}), &d); err != nil {
			return res, fmt.Errorf("seed document %q: %w", d.Title, err)
		}
		res.Documents++
	}
	if err := s.afterBulkInsert(db); err != nil {
		return res, err
	}
	return res, nil
}

// afterBulkInsert moves PostgreSQL's id sequence past explicit ids and
// refreshes planner statistics.
func (s *Store) afterBulkInsert(db *gorm.DB) error {
	if s.Dialect() != Postgres {
		return db.Exec("ANALYZE").Error
	}
	if err := db.Exec("SELECT setval(pg_get_serial_sequence('products', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM products), 1))").Error; err != nil {
		return fmt.Errorf("reset product ids: %w", err)
	}
	if err := db.Exec("ANALYZE products").Error; err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

var demoDocuments = []Document{
	{Title: "Return policy", Content: `# Return policy

You can return any item within 30 days of delivery for a full refund, as long as it is unused and in its original packaging.

## Lamps and lighting

Lamps can be returned within 30 days. Bulbs are consumables: opened bulbs cannot be returned unless they are faulty. A lamp that arrives damaged is replaced free of charge; report the damage within 7 days with a photo.

## How to return

Start a return from your order page. We email a prepaid label; drop the parcel at any partner point. Refunds reach your card within 5 business days of our receiving the item.`},
	{Title: "Shipping and delivery", Content: `# Shipping and delivery

Orders placed before 14:00 ship the same business day. Standard delivery takes 2 to 4 business days and is free above 50 euros; below that it costs 4.90 euros.

Express delivery arrives the next business day for 9.90 euros. Large furniture is delivered by a carrier who calls ahead to agree on a time slot.

We ship to Spain, Portugal, France and Italy. Islands may take two extra days.`},
	{Title: "Warranty", Content: `# Warranty

Every product carries a two-year legal warranty from the date of delivery. Electrical items such as lamps and heaters have an extra year of manufacturer warranty when registered online.

The warranty covers manufacturing defects, not wear, misuse or accidental damage. To claim, contact support with your order number and a description of the fault; we repair, replace or refund.`},
	{Title: "Care instructions for wooden furniture", Content: `# Caring for wooden furniture

Dust with a soft dry cloth. Clean spills at once with a damp cloth and dry immediately. Avoid direct sunlight and radiators: wood dries and cracks.

Once a year, treat oiled surfaces with furniture oil. Use coasters under hot or wet items.`},
	{Title: "Payment methods", Content: `# Payment methods

We accept Visa, Mastercard, American Express, PayPal and bank transfer. Card payments are charged when the order ships. Bank transfers must arrive within 5 days or the order is cancelled.

Invoices are emailed as PDF when the order ships; companies can add their VAT number at checkout.`},
	{Title: "Contact and opening hours", Content: `# Contact

Customer support answers by email and phone from Monday to Friday, 9:00 to 18:00, and on Saturdays from 10:00 to 14:00.

Phone: +34 900 000 000. Email: support@tienda.example. Our showroom in Madrid is open Monday to Saturday.`},
}

// DemoDocumentCount is how many hand-written demo documents exist.
func DemoDocumentCount() int { return len(demoDocuments) }

// DemoDocuments returns n demo documents: the built-in knowledge base
// first, then generated articles.
func DemoDocuments(n int) []Document {
	out := make([]Document, 0, n)
	for i := 0; i < n; i++ {
		if i < len(demoDocuments) {
			out = append(out, demoDocuments[i])
			continue
		}
		out = append(out, Document{
			Title: fmt.Sprintf("Product guide %05d", i+1),
			Content: fmt.Sprintf("# Product guide %d\n\nThis guide covers product family %d: how to choose a size, "+
				"how to assemble it and how to keep it in good condition.\n\nAssembly takes about %d minutes "+
				"with the tools included. Keep the receipt for the warranty.", i+1, i%50, 10+i%40),
		})
	}
	return out
}
