package web_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
	"tienda/models"
)

type fuzzBody struct {
	Name  string   `json:"name" validate:"required,max=20"`
	Count *int     `json:"count,omitempty" validate:"omitempty,min=0,max=9"`
	Tags  []string `json:"tags,omitempty" validate:"max=3,dive,max=10"`
	Items []struct {
		Role string `json:"role" validate:"required,oneof=a b"`
	} `json:"items,omitempty" validate:"max=3,dive"`
}

type fuzzRecord struct {
	Name  string       `json:"name" validate:"required,max=20"`
	Price models.Money `json:"price" validate:"required,gte=0,lte=9999999999"`
	Stock int64        `json:"stock" validate:"gte=0,lte=1000000000"`
}

// FuzzDecodeJSON sends arbitrary bodies to the strict decoders (web.Decode
// for request structs, web.DecodeObject + BindFields for records): every
// answer is a success or a 4xx *web.Error, never a panic or a 5xx, and
// what is accepted is valid UTF-8 without NUL bytes and within its rules.
func FuzzDecodeJSON(f *testing.F) {
	v := models.NewValidator()
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var we *web.Error
		if !errors.As(err, &we) {
			var ve *models.ValidationError
			if errors.As(err, &ve) {
				return c.Status(422).SendString("invalid")
			}
			return c.Status(599).SendString(err.Error())
		}
		return c.Status(we.Status).SendString(we.Code)
	}})
	app.Post("/decode", func(c *fiber.Ctx) error {
		var in fuzzBody
		if err := web.Decode(c, &in, v); err != nil {
			return err
		}
		for _, s := range append([]string{in.Name}, in.Tags...) {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || utf8.RuneCountInString(s) > 20 {
				return c.Status(598).SendString("accepted bad text: " + s)
			}
		}
		return c.SendStatus(200)
	})
	app.Post("/bind", func(c *fiber.Ctx) error {
		obj, err := web.DecodeObject(c)
		if err != nil {
			return err
		}
		var rec fuzzRecord
		if err := web.BindFields(obj, &rec, []string{"name", "price", "stock"}, web.BindReplace); err != nil {
			return err
		}
		return v.Struct(&rec)
	})
	for _, seed := range []string{
		`{"name":"x"}`, `{"name":"x","count":3,"tags":["a"],"items":[{"role":"a"}]}`, `{"name":"a\u0000"}`,
		"{\"name\":\"\xff\"}", `{"name":"x"}}`, `{"name":"x","name":"y"}`, `[]`, `{"items":[{"role":"c","x":1}]}`,
		`{"name":"x","price":"1.005","stock":1}`, `{"name":"x","price":99999999.99,"stock":1000000000}`,
		`{"name":null,"price":null,"stock":null}`, `{"count":1e999}`, `{"tags":"x"}`, ``, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/decode", "/bind"} {
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			r, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != 200 && (r.StatusCode < 400 || r.StatusCode > 499) {
				t.Fatalf("%s %q: %d %s", path, body, r.StatusCode, out)
			}
		}
	})
}
