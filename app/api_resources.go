package app

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"gorm.io/gorm"

	"tienda/models"
)

// resource serves the JSON CRUD endpoints of one model. T is the model
// struct; PT its pointer, which implements models.Entity.
type resource[T any, PT interface {
	*T
	models.Entity
}] struct {
	s        *Server
	kind     string // object type for permissions and history: "product"
	title    string // for messages: "Product"
	path     string // "/api/v1/products"
	spec     models.ListSpec
	writable []string
	// filters parses the list's extra query parameters into a scope.
	filters func(c *fiber.Ctx) (func(*gorm.DB) *gorm.DB, bool, error)
	// afterWrite runs after a successful create, update or delete (e.g. to
	// index a document or invalidate caches).
	afterWrite func(c *fiber.Ctx, action string, rec PT)
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ifMatch returns the version the client says it has (If-Match), or 0
// when it sent none. "*" matches any version.
func ifMatch(c *fiber.Ctx) (int64, bool, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return 0, false, nil
	}
	for _, part := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(part), "W/"), `"`)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return n, true, nil
		}
	}
	return 0, true, &APIError{Status: 412, Code: CodePreconditionFailed, Message: "If-Match does not match the record's ETag."}
}

func pathID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, errNotFound("Object")
	}
	return id, nil
}

// pageParams parses page and page_size strictly: bad values are a 422,
// never silently replaced.
func pageParams(c *fiber.Ctx) (int, int, map[string]string) {
	fields := map[string]string{}
	page, size := 1, models.DefaultPageSize
	if v := c.Query("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			fields["page"] = "must be a whole number from 1 to 1000000"
		}
		page = n
	}
	if v := c.Query("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > models.MaxPageSize {
			fields["page_size"] = fmt.Sprintf("must be a whole number from 1 to %d", models.MaxPageSize)
		}
		size = n
	}
	return page, size, fields
}

func (r *resource[T, PT]) list(c *fiber.Ctx) error {
	if err := can(c, "view", r.kind); err != nil {
		return err
	}
	page, size, fields := pageParams(c)
	sort := c.Query("sort")
	if err := r.spec.CheckSort(sort); err != nil {
		fields["sort"] = err.(*models.ValidationError).Fields["sort"]
	}
	var scope func(*gorm.DB) *gorm.DB
	filtered := false
	if r.filters != nil {
		var err error
		scope, filtered, err = r.filters(c)
		if ve, ok := err.(*models.ValidationError); ok {
			for k, v := range ve.Fields {
				fields[k] = v
			}
		} else if err != nil {
			return err
		}
	}
	if len(fields) > 0 {
		return errValidation(fields)
	}
	q := c.Query("q")
	if len(q) > 200 {
		return errValidation(map[string]string{"q": "must be at most 200 characters"})
	}
	params := models.ListParams{Page: page, PageSize: size, Sort: sort, Q: q, Scope: scope, Filtered: filtered}
	out, err := models.List[T](c.UserContext(), r.s.store.DB, r.spec, params)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (r *resource[T, PT]) load(c *fiber.Ctx) (PT, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, errNotFound(r.title)
	}
	rec := PT(new(T))
	if err := r.s.store.Get(c.UserContext(), rec, id); err != nil {
		if err == models.ErrNotFound {
			return nil, errNotFound(r.title)
		}
		return nil, err
	}
	return rec, nil
}

func (r *resource[T, PT]) send(c *fiber.Ctx, status int, rec PT) error {
	c.Set(fiber.HeaderETag, etag(rec.GetVersion()))
	return c.Status(status).JSON(rec)
}

func (r *resource[T, PT]) get(c *fiber.Ctx) error {
	if err := can(c, "view", r.kind); err != nil {
		return err
	}
	rec, err := r.load(c)
	if err != nil {
		return err
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && strings.Contains(inm, etag(rec.GetVersion())) {
		c.Set(fiber.HeaderETag, etag(rec.GetVersion()))
		return c.SendStatus(fiber.StatusNotModified)
	}
	return r.send(c, 200, rec)
}

func (r *resource[T, PT]) create(c *fiber.Ctx) error {
	if err := can(c, "add", r.kind); err != nil {
		return err
	}
	obj, err := decodeObject(c)
	if err != nil {
		return err
	}
	rec := PT(new(T))
	if err := bindFields(obj, rec, r.writable, true); err != nil {
		return err
	}
	actorCtx(c, models.SourceAPI)
	if err := r.s.store.Create(c.UserContext(), rec); err != nil {
		return err
	}
	r.after(c, "create", rec)
	c.Location(r.path + "/" + itoa(rec.GetID()))
	return r.send(c, fiber.StatusCreated, rec)
}

// update serves PUT (replace every writable field) and PATCH (only the
// fields sent). A stale If-Match, or a concurrent write, is a 412.
func (r *resource[T, PT]) update(replace bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := can(c, "change", r.kind); err != nil {
			return err
		}
		want, sent, err := ifMatch(c)
		if err != nil {
			return err
		}
		obj, err := decodeObject(c)
		if err != nil {
			return err
		}
		rec, err := r.load(c)
		if err != nil {
			return err
		}
		expected := rec.GetVersion()
		if sent {
			expected = want
		}
		if err := bindFields(obj, rec, r.writable, replace); err != nil {
			return err
		}
		actorCtx(c, models.SourceAPI)
		if err := r.s.store.Update(c.UserContext(), rec, expected); err != nil {
			return err
		}
		r.after(c, "update", rec)
		return r.send(c, 200, rec)
	}
}

func (r *resource[T, PT]) remove(c *fiber.Ctx) error {
	if err := can(c, "delete", r.kind); err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return errNotFound(r.title)
	}
	want, _, err := ifMatch(c)
	if err != nil {
		return err
	}
	actorCtx(c, models.SourceAPI)
	rec := PT(new(T))
	if err := r.s.store.Delete(c.UserContext(), rec, id, want); err != nil {
		if err == models.ErrNotFound {
			return errNotFound(r.title)
		}
		return err
	}
	r.after(c, "delete", rec)
	return c.SendStatus(fiber.StatusNoContent)
}

func (r *resource[T, PT]) after(c *fiber.Ctx, action string, rec PT) {
	if r.afterWrite != nil {
		r.afterWrite(c, action, rec)
	}
}

// mount registers the resource's routes on g (relative to r.path).
func (r *resource[T, PT]) mount(g fiber.Router, prefix string) {
	g.Get(prefix, r.s.cached(r.kind, r.list))
	g.Post(prefix, r.create)
	g.Get(prefix+"/:id", r.s.cached(r.kind, r.get))
	g.Put(prefix+"/:id", r.update(true))
	g.Patch(prefix+"/:id", r.update(false))
	g.Delete(prefix+"/:id", r.remove)
}

// productFilters parses min_price, max_price and in_stock.
func productFilters(c *fiber.Ctx) (func(*gorm.DB) *gorm.DB, bool, error) {
	var f models.ProductFilter
	fields := map[string]string{}
	for _, p := range []struct {
		key string
		dst **models.Money
	}{{"min_price", &f.MinPrice}, {"max_price", &f.MaxPrice}} {
		if v := c.Query(p.key); v != "" {
			m, err := models.ParseMoney(v)
			if err != nil || m.CentsValue() < 0 {
				fields[p.key] = "must be a decimal number of 0 or more with at most 2 decimal places"
				continue
			}
			*p.dst = &m
		}
	}
	if v := c.Query("in_stock"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fields["in_stock"] = "must be true or false"
		} else {
			f.InStock = &b
		}
	}
	if len(fields) > 0 {
		return nil, false, &models.ValidationError{Fields: fields}
	}
	return f.Scope, !f.IsZero(), nil
}
