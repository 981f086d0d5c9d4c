package models

import (
	"time"

	"gorm.io/gorm"
)

// Product is an item of the shop's catalogue. Its business bounds live in
// the validate tags (Money validates as cents, so the price's lte is
// 99,999,999.99); models.Rules gives them to the admin's inputs and OpenAPI.
type Product struct {
	ID          int64     `json:"id" gorm:"primaryKey"`
	Name        string    `json:"name" validate:"required,notblank,min=1,max=80,singleline"`
	Description string    `json:"description" validate:"max=200,text"`
	Price       Money     `json:"price" validate:"required,gte=0,lte=9999999999"`
	Stock       int64     `json:"stock" validate:"gte=0,lte=1000000000"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// LowStockThreshold is the stock level under which a product counts as low.
const LowStockThreshold = 10

func (p *Product) GetID() int64      { return p.ID }
func (p *Product) GetVersion() int64 { return p.Version }
func (p *Product) String() string    { return p.Name }

// Nothing hooks a product's creation, so on PostgreSQL it is one statement (create.go).
func (p *Product) oneStatementCreate() {}

func (p *Product) setMeta(id, version int64, created, updated time.Time) {
	p.ID, p.Version, p.CreatedAt, p.UpdatedAt = id, version, created, updated
}

// ProductFilter narrows a product list; nil fields are not applied.
type ProductFilter struct {
	MinPrice *Money
	MaxPrice *Money
	InStock  *bool
	// Stock is the admin's sidebar filter: "in", "out" or "low".
	Stock string
}

// Scope turns the filter into WHERE clauses (values always bound).
func (f ProductFilter) Scope(db *gorm.DB) *gorm.DB {
	if f.MinPrice != nil {
		db = db.Where("price >= ?", *f.MinPrice)
	}
	if f.MaxPrice != nil {
		db = db.Where("price <= ?", *f.MaxPrice)
	}
	if f.InStock != nil {
		if *f.InStock {
			db = db.Where("stock > 0")
		} else {
			db = db.Where("stock = 0")
		}
	}
	switch f.Stock {
	case "in":
		db = db.Where("stock > 0")
	case "out":
		db = db.Where("stock = 0")
	case "low":
		db = db.Where("stock > 0 AND stock < ?", LowStockThreshold)
	}
	return db
}

// IsZero reports whether no filter is set (so the list total may be estimated cheaply).
func (f ProductFilter) IsZero() bool {
	return f.MinPrice == nil && f.MaxPrice == nil && f.InStock == nil && f.Stock == ""
}

// ProductList is the list spec for products: what may be sorted and searched.
var ProductList = ListSpec{
	Table:        "products",
	Sortable:     []string{"id", "name", "price", "stock", "created_at", "updated_at"},
	SearchFields: []string{"name", "description"},
	DefaultSort:  "id",
}
