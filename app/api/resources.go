// Package api serves the REST API: the model resources with their
// response cache, the OpenAPI document and docs page, health and
// readiness, and the chat, search and embeddings endpoints.
package api

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/app/web"
	"tienda/models"
)

// Resource serves the JSON CRUD endpoints of one model. T is the model
// struct; PT its pointer, which implements models.Entity.
type Resource[T any, PT interface {
	*T
	models.Entity
}] struct {
	Store *models.Store
	// Cache caches list and detail answers (nil: no cache).
	Cache *Cache
	Kind  string // object type for permissions and history: "product"
	Title string // for messages: "Product"
	Path  string // "/api/v1/products"
	Spec  models.ListSpec
	// Writable are the JSON names a client may set.
	Writable []string
	// Filters parses the list's extra query parameters into a scope.
	Filters func(c *fiber.Ctx) (func(*gorm.DB) *gorm.DB, bool, error)
	// RequireIfMatch refuses a write of an existing record without
	// If-Match (428), so no client loses an update by accident
	// (REQUIRE_IF_MATCH).
	RequireIfMatch bool
}

// MaxPage bounds the page number of every list request, REST and
// GraphQL alike (q is bounded by models.List).
const MaxPage = 1_000_000

// CheckPage checks a page number and page size against the list bounds,
// adding a message keyed by the REST name (page, page_size) for each bad
// value to fields.
func CheckPage(page, size int, fields map[string]string) {
	if page < 1 || page > MaxPage {
		fields["page"] = fmt.Sprintf("must be a whole number from 1 to %d", MaxPage)
	}
	if size < 1 || size > models.MaxPageSize {
		fields["page_size"] = fmt.Sprintf("must be a whole number from 1 to %d", models.MaxPageSize)
	}
}

// pageParams parses page and page_size strictly: bad values are a 422,
// never silently replaced.
func pageParams(c *fiber.Ctx) (int, int, map[string]string) {
	fields := map[string]string{}
	page, size := 1, models.DefaultPageSize
	if v := c.Query("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = 0 // not a number: reported as out of bounds
		}
		page = n
	}
	if v := c.Query("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = 0
		}
		size = n
	}
	CheckPage(page, size, fields)
	return page, size, fields
}

// List: GET {path}.
func (r *Resource[T, PT]) List(c *fiber.Ctx) error { return r.Cache.Serve(c, r.Kind, r.list) }

func (r *Resource[T, PT]) list(c *fiber.Ctx) error {
	if err := web.Require(c, "view", r.Kind); err != nil {
		return err
	}
	page, size, fields := pageParams(c)
	sort := c.Query("sort")
	var ve *models.ValidationError
	if err := r.Spec.CheckSort(sort); errors.As(err, &ve) {
		fields["sort"] = ve.Fields["sort"]
	}
	var scope func(*gorm.DB) *gorm.DB
	filtered := false
	if r.Filters != nil {
		var err error
		scope, filtered, err = r.Filters(c)
		if errors.As(err, &ve) {
			for k, v := range ve.Fields {
				fields[k] = v
			}
		} else if err != nil {
			return err
		}
	}
	var after *models.Keyset
	if raw := c.Query("after"); raw != "" && fields["sort"] == "" {
		if c.Query("page") != "" {
			fields["after"] = "cannot be combined with page: a cursor names where the page starts"
		} else if k, err := models.ParseAfter[T](r.Spec, sort, raw); errors.As(err, &ve) {
			fields["after"] = ve.Fields["after"]
		} else {
			after = k
		}
	}
	if len(fields) > 0 {
		return web.Invalid(fields)
	}
	q := c.Query("q") // bounded and checked by models.List
	params := models.ListParams{Page: page, PageSize: size, Sort: sort, Q: q, Scope: scope, Filtered: filtered, After: after}
	out, err := models.List[T](c.UserContext(), r.Store.DB, r.Spec, params)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (r *Resource[T, PT]) load(c *fiber.Ctx) (PT, error) {
	id, err := web.PathID(c, r.Title)
	if err != nil {
		return nil, err
	}
	rec := PT(new(T))
	if err := r.Store.Get(c.UserContext(), rec, id); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return nil, web.NotFound(r.Title)
		}
		return nil, err
	}
	return rec, nil
}

func (r *Resource[T, PT]) send(c *fiber.Ctx, status int, rec PT) error {
	c.Set(fiber.HeaderETag, web.ETag(rec.GetVersion()))
	return c.Status(status).JSON(rec)
}

// Get: GET {path}/{id}.
func (r *Resource[T, PT]) Get(c *fiber.Ctx) error { return r.Cache.Serve(c, r.Kind, r.get) }

func (r *Resource[T, PT]) get(c *fiber.Ctx) error {
	if err := web.Require(c, "view", r.Kind); err != nil {
		return err
	}
	rec, err := r.load(c)
	if err != nil {
		return err
	}
	if web.NoneMatch(c.Get(fiber.HeaderIfNoneMatch), web.ETag(rec.GetVersion())) {
		c.Set(fiber.HeaderETag, web.ETag(rec.GetVersion()))
		return c.SendStatus(fiber.StatusNotModified)
	}
	return r.send(c, 200, rec)
}

// Create: POST {path}.
func (r *Resource[T, PT]) Create(c *fiber.Ctx) error {
	if err := web.Require(c, "add", r.Kind); err != nil {
		return err
	}
	obj, err := web.DecodeObject(c)
	if err != nil {
		return err
	}
	rec := PT(new(T))
	if err := web.BindFields(obj, rec, r.Writable, web.BindCreate); err != nil {
		return err
	}
	web.WithActor(c, models.SourceAPI)
	if err := r.Store.Create(c.UserContext(), rec); err != nil {
		return err
	}
	c.Location(r.Path + "/" + strconv.FormatInt(rec.GetID(), 10))
	return r.send(c, fiber.StatusCreated, rec)
}

// Replace: PUT {path}/{id} sets every writable field; each must be sent.
func (r *Resource[T, PT]) Replace(c *fiber.Ctx) error { return r.update(c, web.BindReplace) }

// Patch: PATCH {path}/{id} sets only the fields sent.
func (r *Resource[T, PT]) Patch(c *fiber.Ctx) error { return r.update(c, web.BindPatch) }

// update serves PUT and PATCH. A stale If-Match, or a concurrent write, is a 412.
func (r *Resource[T, PT]) update(c *fiber.Ctx, mode int) error {
	if err := web.Require(c, "change", r.Kind); err != nil {
		return err
	}
	obj, err := web.DecodeObject(c)
	if err != nil {
		return err
	}
	rec, err := r.load(c)
	if err != nil {
		return err
	}
	pc := web.IfMatch(c)
	expected, err := pc.Expect(rec.GetVersion(), r.RequireIfMatch)
	if err != nil {
		return err
	}
	if pc.AnyVersion(r.RequireIfMatch) {
		expected = models.AnyVersion // whatever version is current when the write runs
	}
	// The body's fields are bound onto the row read under the write's
	// lock, so a write to "any version" applies to the version current
	// then and never puts back what another write changed.
	web.WithActor(c, models.SourceAPI)
	err = r.Store.Change(c.UserContext(), rec, rec.GetID(), expected, func(e models.Entity) error {
		return web.BindFields(obj, e, r.Writable, mode)
	})
	if errors.Is(err, models.ErrNotFound) {
		return web.NotFound(r.Title)
	}
	if err != nil {
		return err
	}
	return r.send(c, 200, rec)
}

// Delete: DELETE {path}/{id}.
func (r *Resource[T, PT]) Delete(c *fiber.Ctx) error {
	if err := web.Require(c, "delete", r.Kind); err != nil {
		return err
	}
	cur, err := r.load(c)
	if err != nil {
		return err
	}
	pc := web.IfMatch(c)
	expected, err := pc.Expect(cur.GetVersion(), r.RequireIfMatch)
	if err != nil {
		return err
	}
	if pc.AnyVersion(r.RequireIfMatch) {
		expected = 0
	}
	web.WithActor(c, models.SourceAPI)
	err = r.Store.Delete(c.UserContext(), PT(new(T)), cur.GetID(), expected)
	if errors.Is(err, models.ErrNotFound) {
		return web.NotFound(r.Title)
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// ProductFilters parses min_price, max_price and in_stock.
func ProductFilters(c *fiber.Ctx) (func(*gorm.DB) *gorm.DB, bool, error) {
	f, err := ProductFilterOf(func(key string) string { return c.Query(key) })
	if err != nil {
		return nil, false, err
	}
	return f.Scope, !f.IsZero(), nil
}

// ProductFilterOf reads the product list filters min_price, max_price and
// in_stock through get (the query string, or GraphQL's arguments; "" is
// unset). Bad values are a *models.ValidationError keyed by those names.
func ProductFilterOf(get func(key string) string) (models.ProductFilter, error) {
	var f models.ProductFilter
	fields := map[string]string{}
	for _, p := range []struct {
		key string
		dst **models.Money
	}{{"min_price", &f.MinPrice}, {"max_price", &f.MaxPrice}} {
		if v := get(p.key); v != "" {
			m, err := models.ParseMoney(v)
			if err != nil || m.CentsValue() < 0 {
				fields[p.key] = "must be a decimal number of 0 or more with at most 2 decimal places"
				continue
			}
			*p.dst = &m
		}
	}
	if v := get("in_stock"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fields["in_stock"] = "must be true or false"
		} else {
			f.InStock = &b
		}
	}
	if len(fields) > 0 {
		return models.ProductFilter{}, &models.ValidationError{Fields: fields}
	}
	return f, nil
}
