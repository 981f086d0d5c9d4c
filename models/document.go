package models

import "time"

// MaxDocumentBytes bounds a document's content (1 MB).
const MaxDocumentBytes = 1 << 20

// Document is a text of the shop's knowledge base (policies, guides...).
type Document struct {
	ID        int64     `json:"id" gorm:"primaryKey"`
	Title     string    `json:"title" validate:"required,notblank,min=1,max=200,singleline"`
	Content   string    `json:"content" validate:"required,max=1048576,text"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Index is the document's knowledge-base index state (read-only; nil
	// until the document has been queued for indexing). The server's
	// indexer attaches it to every document loaded (app/chat).
	Index *DocumentIndex `json:"index,omitempty" gorm:"-"`
}

func (d *Document) GetID() int64      { return d.ID }
func (d *Document) GetVersion() int64 { return d.Version }
func (d *Document) String() string    { return d.Title }
func (d *Document) setMeta(id, version int64, created, updated time.Time) {
	d.ID, d.Version, d.CreatedAt, d.UpdatedAt = id, version, created, updated
}

// DocumentList is the list spec for documents.
var DocumentList = ListSpec{
	Table:        "documents",
	Sortable:     []string{"id", "title", "created_at", "updated_at"},
	SearchFields: []string{"title", "content"},
	DefaultSort:  "id",
}
