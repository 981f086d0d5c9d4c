package graphql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"

	"tienda/app/api"
	"tienda/app/chat"
	"tienda/app/web"
	"tienda/models"
)

// resolver answers the schema's fields over the store: the same
// validation, list rules, version checks and history as the REST
// resources, and the same permission check (web.Principal.Can).
type resolver struct {
	store     *models.Store
	retriever *chat.Retriever
}

func (r *resolver) Query() QueryResolver       { return (*queryResolver)(r) }
func (r *resolver) Mutation() MutationResolver { return (*mutationResolver)(r) }

type (
	queryResolver    resolver
	mutationResolver resolver
)

// require is web.Require for an operation: the principal the request
// authenticated as must be allowed action on objectType.
func require(ctx context.Context, action, objectType string) error {
	p := principalFrom(ctx)
	switch {
	case p == nil:
		return web.Unauthorized("")
	case p.ReadOnly && action != "view":
		return web.Forbidden("This API key is read-only: it may run queries, not mutations.")
	case !p.Can(action, objectType):
		return web.Forbidden(fmt.Sprintf("This needs the %s permission.", models.Codename(action, objectType)))
	}
	return nil
}

// writer tags the operation's writes with its principal, for the history.
func writer(ctx context.Context) context.Context {
	if p := principalFrom(ctx); p != nil {
		return models.WithActor(ctx, models.Actor{UserID: p.UserID, Username: p.Username, Source: models.SourceAPI})
	}
	return ctx
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// listParams checks a list's arguments with REST's bounds and whitelists
// (api.CheckPage, ListSpec.CheckSort); earlier holds the filters' errors.
// Field errors are keyed by the REST names and renamed by the error
// presenter (page_size becomes pageSize).
func listParams(spec models.ListSpec, q, sort *string, page, size *int, earlier error) (models.ListParams, error) {
	fields := map[string]string{}
	var ve *models.ValidationError
	if errors.As(earlier, &ve) {
		maps.Copy(fields, ve.Fields)
	} else if earlier != nil {
		return models.ListParams{}, earlier
	}
	p := models.ListParams{Page: deref(page, 1), PageSize: deref(size, models.DefaultPageSize), Q: deref(q, "")}
	api.CheckPage(p.Page, p.PageSize, fields)
	p.Sort = jsonName(deref(sort, ""))
	if spec.CheckSort(p.Sort) != nil {
		names := make([]string, len(spec.Sortable))
		for i, s := range spec.Sortable {
			names[i] = inputName(s)
		}
		fields["sort"] = "must be one of: " + strings.Join(names, ", ") + " (prefix - for descending)"
	}
	// q (its length, NUL bytes, UTF-8) is checked by models.List, as for REST.
	if len(fields) > 0 {
		return p, &models.ValidationError{Fields: fields}
	}
	return p, nil
}

func (r *queryResolver) Products(ctx context.Context, q *string, minPrice, maxPrice *models.Money, inStock *bool, sort *string, page, pageSize *int) (*ProductPage, error) {
	if err := require(ctx, "view", "product"); err != nil {
		return nil, err
	}
	// The REST filter parser, fed with the arguments: the same rules.
	f, ferr := api.ProductFilterOf(func(key string) string {
		switch {
		case key == "min_price" && minPrice != nil:
			return minPrice.String()
		case key == "max_price" && maxPrice != nil:
			return maxPrice.String()
		case key == "in_stock" && inStock != nil:
			return strconv.FormatBool(*inStock)
		}
		return ""
	})
	params, err := listParams(models.ProductList, q, sort, page, pageSize, ferr)
	if err != nil {
		return nil, err
	}
	params.Scope, params.Filtered = f.Scope, !f.IsZero()
	out, err := models.List[models.Product](ctx, r.store.DB, models.ProductList, params)
	if err != nil {
		return nil, err
	}
	return &ProductPage{Items: out.Items, Total: int(out.Total), TotalIsEstimate: out.TotalIsEstimate,
		Page: out.Page, PageSize: out.PageSize, HasNext: out.HasNext}, nil
}

func (r *queryResolver) Product(ctx context.Context, id int64) (*models.Product, error) {
	if err := require(ctx, "view", "product"); err != nil {
		return nil, err
	}
	var p models.Product
	if err := r.store.Get(ctx, &p, id); err != nil {
		return nil, notFound(err, "Product")
	}
	return &p, nil
}

func (r *queryResolver) Documents(ctx context.Context, q *string, sort *string, page, pageSize *int) (*DocumentPage, error) {
	if err := require(ctx, "view", "document"); err != nil {
		return nil, err
	}
	params, err := listParams(models.DocumentList, q, sort, page, pageSize, nil)
	if err != nil {
		return nil, err
	}
	out, err := models.List[models.Document](ctx, r.store.DB, models.DocumentList, params)
	if err != nil {
		return nil, err
	}
	return &DocumentPage{Items: out.Items, Total: int(out.Total), TotalIsEstimate: out.TotalIsEstimate,
		Page: out.Page, PageSize: out.PageSize, HasNext: out.HasNext}, nil
}

func (r *queryResolver) Document(ctx context.Context, id int64) (*models.Document, error) {
	if err := require(ctx, "view", "document"); err != nil {
		return nil, err
	}
	var d models.Document
	if err := r.store.Get(ctx, &d, id); err != nil {
		return nil, notFound(err, "Document")
	}
	return &d, nil
}

// SearchDocuments is POST /api/v1/documents/search: the same request rules
// (api.SearchRequest's tags), the same retriever. The hits' documents are
// loaded in one query, and only when the operation asks for them.
func (r *queryResolver) SearchDocuments(ctx context.Context, query string, mode *SearchMode, topK *int) ([]SearchHit, error) {
	if err := require(ctx, "view", "document"); err != nil {
		return nil, err
	}
	k := deref(topK, 5)
	in := api.SearchRequest{Query: query, TopK: &k, Mode: strings.ToLower(string(deref(mode, SearchModeHybrid)))}
	if err := r.store.Validate.Struct(&in); err != nil {
		return nil, err
	}
	res, retrieval, err := r.retriever.Search(ctx, in.Query, k, in.Mode)
	if err != nil {
		return nil, api.ChatError(err)
	}
	// As REST's "retrieval": keyword when the embedder failed or was slow
	// (the first search's, when an operation holds several).
	// Root fields resolve concurrently: the request registers it once.
	if req := requestFrom(ctx); req != nil {
		req.retrieval.Do(func() { gql.RegisterExtension(ctx, "retrieval", retrieval) })
	}
	hits := make([]SearchHit, 0, len(res))
	var docs map[int64]*models.Document
	if selects(ctx, "document") {
		ids := make([]int64, len(res))
		for i, s := range res {
			ids[i] = s.DocumentID
		}
		var rows []models.Document
		if err := r.store.DB.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("load search documents: %w", err)
		}
		docs = make(map[int64]*models.Document, len(rows))
		for i := range rows {
			docs[rows[i].ID] = &rows[i]
		}
	}
	for _, s := range res {
		h := SearchHit{ChunkID: s.ChunkID, DocumentID: s.DocumentID, Title: s.Title, Snippet: s.Snippet, Score: s.Score}
		if docs != nil {
			if h.Document = docs[s.DocumentID]; h.Document == nil {
				continue // deleted since the search: no hit without its document
			}
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// selects reports whether the field being resolved selects name.
func selects(ctx context.Context, name string) bool {
	for _, f := range gql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}

func notFound(err error, what string) error {
	if errors.Is(err, models.ErrNotFound) {
		return web.NotFound(what)
	}
	return err
}

// checkVersion refuses an expectedVersion no record can have (a store
// call with 0 would mean "any version").
func checkVersion(v int) error {
	if v < 1 {
		return models.FieldError("expectedVersion", "must be the version you read (1 or more)")
	}
	return nil
}

func (r *mutationResolver) CreateProduct(ctx context.Context, in ProductInput) (*models.Product, error) {
	if err := require(ctx, "add", "product"); err != nil {
		return nil, err
	}
	p := &models.Product{Name: in.Name, Description: deref(in.Description, ""), Price: in.Price, Stock: int64(deref(in.Stock, 0))}
	if err := r.store.Create(writer(ctx), p); err != nil {
		return nil, err
	}
	return p, nil
}

func (r *mutationResolver) UpdateProduct(ctx context.Context, id int64, expectedVersion int, in ProductPatch) (*models.Product, error) {
	if err := require(ctx, "change", "product"); err != nil {
		return nil, err
	}
	if err := checkVersion(expectedVersion); err != nil {
		return nil, err
	}
	var p models.Product
	if err := r.store.Get(ctx, &p, id); err != nil {
		return nil, notFound(err, "Product")
	}
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.Price != nil {
		p.Price = *in.Price
	}
	if in.Stock != nil {
		p.Stock = int64(*in.Stock)
	}
	if err := r.store.Update(writer(ctx), &p, int64(expectedVersion)); err != nil {
		return nil, notFound(err, "Product")
	}
	return &p, nil
}

func (r *mutationResolver) DeleteProduct(ctx context.Context, id int64, expectedVersion int) (int64, error) {
	if err := require(ctx, "delete", "product"); err != nil {
		return 0, err
	}
	if err := checkVersion(expectedVersion); err != nil {
		return 0, err
	}
	if err := r.store.Delete(writer(ctx), &models.Product{}, id, int64(expectedVersion)); err != nil {
		return 0, notFound(err, "Product")
	}
	return id, nil
}

func (r *mutationResolver) CreateDocument(ctx context.Context, in DocumentInput) (*models.Document, error) {
	if err := require(ctx, "add", "document"); err != nil {
		return nil, err
	}
	d := &models.Document{Title: in.Title, Content: in.Content}
	if err := r.store.Create(writer(ctx), d); err != nil {
		return nil, err
	}
	return d, nil
}

func (r *mutationResolver) UpdateDocument(ctx context.Context, id int64, expectedVersion int, in DocumentPatch) (*models.Document, error) {
	if err := require(ctx, "change", "document"); err != nil {
		return nil, err
	}
	if err := checkVersion(expectedVersion); err != nil {
		return nil, err
	}
	var d models.Document
	if err := r.store.Get(ctx, &d, id); err != nil {
		return nil, notFound(err, "Document")
	}
	if in.Title != nil {
		d.Title = *in.Title
	}
	if in.Content != nil {
		d.Content = *in.Content
	}
	if err := r.store.Update(writer(ctx), &d, int64(expectedVersion)); err != nil {
		return nil, notFound(err, "Document")
	}
	return &d, nil
}

func (r *mutationResolver) DeleteDocument(ctx context.Context, id int64, expectedVersion int) (int64, error) {
	if err := require(ctx, "delete", "document"); err != nil {
		return 0, err
	}
	if err := checkVersion(expectedVersion); err != nil {
		return 0, err
	}
	if err := r.store.Delete(writer(ctx), &models.Document{}, id, int64(expectedVersion)); err != nil {
		return 0, notFound(err, "Document")
	}
	return id, nil
}
