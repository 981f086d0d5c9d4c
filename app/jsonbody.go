package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tienda/models"
)

// readOnly fields may appear in a body (clients often send back what they
// read) but are never bound.
var readOnly = map[string]bool{"id": true, "version": true, "created_at": true, "updated_at": true}

// decodeObject checks the content type and parses the body as one JSON
// object, keyed by field name. Malformed JSON is a 400.
func decodeObject(c *fiber.Ctx) (map[string]json.RawMessage, error) {
	if err := requireJSON(c); err != nil {
		return nil, err
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errBadRequest("The request body is empty.", "Send a JSON object.")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, errBadRequest("The request body must be a JSON object.", "")
		}
		return nil, errBadRequest("The request body is not valid JSON.", jsonErrDetail(err))
	}
	if dec.More() {
		return nil, errBadRequest("The request body is not valid JSON.", "unexpected data after the JSON object")
	}
	if m == nil {
		return nil, errBadRequest("The request body must be a JSON object.", "")
	}
	if k, dup := duplicateKey(body); dup {
		// encoding/json keeps the last value silently; a client that sent
		// two would not know which one was stored.
		return nil, errBadRequest("The request body is not valid JSON.", fmt.Sprintf("the field %q appears twice", k))
	}
	return m, nil
}

// duplicateKey reports a key that appears twice at the top level of a
// JSON object already known to be valid.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := tok.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

func requireJSON(c *fiber.Ctx) error {
	ct := string(c.Request().Header.ContentType())
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &APIError{Status: 415, Code: CodeUnsupportedMedia, Message: "Content-Type must be application/json."}
	}
	return nil
}

func jsonErrDetail(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "unexpected end of input"
}

// bindFields writes the present keys of obj into the struct dst (a pointer
// to a model), accepting only the writable JSON field names. Unknown names
// and values of the wrong type become field errors keyed by the JSON name.
// With requireAll, writable fields missing from obj are reset to their zero
// value (PUT and POST replace the whole record).
func bindFields(obj map[string]json.RawMessage, dst any, writable []string, requireAll bool) error {
	v := reflect.ValueOf(dst).Elem()
	index := jsonFieldIndex(v.Type())
	allowed := map[string]bool{}
	for _, w := range writable {
		allowed[w] = true
	}
	fields := map[string]string{}
	for k := range obj {
		if !allowed[k] && !readOnly[k] {
			fields[k] = "is not a known field"
		}
	}
	for _, name := range writable {
		fv := v.Field(index[name])
		raw, present := obj[name]
		if !present {
			if requireAll {
				fv.Set(reflect.Zero(fv.Type()))
			}
			continue
		}
		ptr := reflect.New(fv.Type())
		if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
			fields[name] = typeMessage(fv.Type(), err)
			continue
		}
		fv.Set(ptr.Elem())
	}
	if len(fields) > 0 {
		return errValidation(fields)
	}
	return nil
}

func typeMessage(t reflect.Type, err error) string {
	if errors.Is(err, models.ErrMoneyFormat) {
		return models.ErrMoneyFormat.Error()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "must be a whole number between -9223372036854775808 and 9223372036854775807"
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Float64:
		return "must be a number"
	}
	return "has the wrong type"
}

// jsonFieldIndex maps JSON names to struct field indexes.
func jsonFieldIndex(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}
