package web

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

// ReadOnly fields may appear in a body (clients often send back what they
// read) but are never bound.
var ReadOnly = map[string]bool{"id": true, "version": true, "created_at": true, "updated_at": true}

// DecodeObject checks the content type and parses the body as one JSON
// object, keyed by field name. Malformed JSON is a 400.
func DecodeObject(c *fiber.Ctx) (map[string]json.RawMessage, error) {
	if err := RequireJSON(c); err != nil {
		return nil, err
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, BadRequest("The request body is empty.", "Send a JSON object.")
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, BadRequest("The request body must be a JSON object.", "")
		}
		return nil, BadRequest("The request body is not valid JSON.", jsonErrDetail(err))
	}
	if dec.More() {
		return nil, BadRequest("The request body is not valid JSON.", "unexpected data after the JSON object")
	}
	if m == nil {
		return nil, BadRequest("The request body must be a JSON object.", "")
	}
	if k, dup := duplicateKey(body); dup {
		// encoding/json keeps the last value silently; a client that sent
		// two would not know which one was stored.
		return nil, BadRequest("The request body is not valid JSON.", fmt.Sprintf("the field %q appears twice", k))
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

// RequireJSON refuses a body that is not declared as JSON (415).
func RequireJSON(c *fiber.Ctx) error {
	ct := string(c.Request().Header.ContentType())
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &Error{Status: 415, Code: CodeUnsupportedMedia, Message: "Content-Type must be application/json."}
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

// BindFields writes the present keys of obj into the struct dst (a pointer
// to a model), accepting only the writable JSON field names. Unknown names
// and values of the wrong type become field errors keyed by the JSON name.
// With requireAll, writable fields missing from obj are reset to their zero
// value (PUT and POST replace the whole record).
func BindFields(obj map[string]json.RawMessage, dst any, writable []string, requireAll bool) error {
	v := reflect.ValueOf(dst).Elem()
	index := jsonFieldIndex(v.Type())
	allowed := map[string]bool{}
	for _, w := range writable {
		allowed[w] = true
	}
	fields := map[string]string{}
	for k := range obj {
		if !allowed[k] && !ReadOnly[k] {
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
		return Invalid(fields)
	}
	return nil
}

// SubfieldError is a decoding error about a part of a field, returned by a
// type's UnmarshalJSON: Suffix names the part ("[1]" for input[1]).
type SubfieldError struct {
	Suffix  string
	Message string
}

func (e *SubfieldError) Error() string { return e.Suffix + " " + e.Message }

// Decode reads the body as one JSON object into dst, a pointer to a
// request struct: unknown fields are refused and every value of the
// wrong type is named (nested lists of objects as "history[2].role"),
// then the struct's `validate` tags are checked by the models' validator,
// so request bodies and models share one rule source.
func Decode(c *fiber.Ctx, dst any, v *models.Validator) error {
	obj, err := DecodeObject(c)
	if err != nil {
		return err
	}
	fields := map[string]string{}
	if err := bindStruct(obj, reflect.ValueOf(dst).Elem(), "", fields); err != nil {
		return err
	}
	if len(fields) > 0 {
		return Invalid(fields)
	}
	return v.Struct(dst)
}

// bindStruct decodes obj into the struct sv, recursing into lists of
// structs so that unknown keys inside them are refused too. A type's
// UnmarshalJSON may refuse the whole request with a *Error (e.g. 413).
func bindStruct(obj map[string]json.RawMessage, sv reflect.Value, prefix string, fields map[string]string) error {
	index := jsonFieldIndex(sv.Type())
	for k, raw := range obj {
		i, ok := index[k]
		if !ok {
			fields[prefix+k] = "is not a known field"
			continue
		}
		fv := sv.Field(i)
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			var items []map[string]json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				fields[prefix+k] = "must be a list of objects"
				continue
			}
			out := reflect.MakeSlice(fv.Type(), len(items), len(items))
			for j, it := range items {
				if err := bindStruct(it, out.Index(j), fmt.Sprintf("%s%s[%d].", prefix, k, j), fields); err != nil {
					return err
				}
			}
			fv.Set(out)
			continue
		}
		ptr := reflect.New(fv.Type())
		if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
			var whole *Error
			var part *SubfieldError
			switch {
			case errors.As(err, &whole):
				return whole
			case errors.As(err, &part):
				fields[prefix+k+part.Suffix] = part.Message
			default:
				fields[prefix+k] = typeMessage(fv.Type(), err)
			}
			continue
		}
		fv.Set(ptr.Elem())
	}
	return nil
}

func typeMessage(t reflect.Type, err error) string {
	if errors.Is(err, models.ErrMoneyFormat) {
		return models.ErrMoneyFormat.Error()
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "must be a whole number between -9223372036854775808 and 9223372036854775807"
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Float64, reflect.Float32:
		return "must be a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "must be a list of strings"
		}
		return "must be a list"
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
