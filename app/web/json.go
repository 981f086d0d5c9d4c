package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strings"
	"unicode/utf8"

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
	// Exactly one JSON value, then only whitespace: dec.More would miss a
	// stray } or ] after the object.
	if rest := body[dec.InputOffset():]; len(bytes.TrimSpace(rest)) > 0 {
		return nil, BadRequest("The request body is not valid JSON.", "unexpected data after the JSON object")
	}
	if m == nil {
		return nil, BadRequest("The request body must be a JSON object.", "")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, storing
	// something other than what was sent.
	bad := map[string]string{}
	for k, raw := range m {
		if !utf8.Valid(raw) {
			bad[k] = "must be valid UTF-8"
		}
	}
	if len(bad) > 0 {
		return nil, Invalid(bad)
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

// Bind modes: how fields missing from a body are treated.
const (
	// BindCreate (POST) leaves missing fields at their zero value; the
	// model's validation then says which are required.
	BindCreate = iota
	// BindReplace (PUT) is a full replace: every writable field must be
	// sent, so that a forgotten one is never silently erased.
	BindReplace
	// BindPatch (PATCH) changes only the fields sent.
	BindPatch
)

// BindFields writes the present keys of obj into the struct dst (a pointer
// to a model), accepting only the writable JSON field names. Unknown names
// and values of the wrong type become field errors keyed by the JSON name;
// so does a writable field missing from a BindReplace body.
func BindFields(obj map[string]json.RawMessage, dst any, writable []string, mode int) error {
	v := reflect.ValueOf(dst).Elem()
	index := jsonFieldIndex(v.Type())
	allowed := map[string]bool{}
	for _, w := range writable {
		allowed[w] = true
	}
	fields := map[string]string{}
	unknown := &unknownFields{fields: fields}
	for k := range obj {
		if !allowed[k] && !ReadOnly[k] {
			unknown.add(k)
		}
	}
	for _, name := range writable {
		fv := v.Field(index[name])
		raw, present := obj[name]
		if !present {
			switch mode {
			case BindCreate:
				fv.Set(reflect.Zero(fv.Type()))
			case BindReplace:
				fields[name] = "is required (PUT replaces every field; use PATCH to change some)"
			}
			continue
		}
		if fv.Kind() != reflect.Pointer && bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			// encoding/json would leave the field as it was.
			fields[name] = "must not be null"
			continue
		}
		ptr := reflect.New(fv.Type())
		if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
			fields[name] = typeMessage(fv.Type(), err)
			continue
		}
		fv.Set(ptr.Elem())
	}
	unknown.done()
	if len(fields) > 0 {
		return Invalid(fields)
	}
	return nil
}

// MaxUnknownFields is how many unknown keys an error names; the rest are
// counted (a body of 50,000 unknown keys must not get a 1.6 MB answer).
const MaxUnknownFields = 20

// unknownFields names unknown keys in fields, up to MaxUnknownFields, and
// counts the others under "_unknown".
type unknownFields struct {
	fields map[string]string
	named  int
	more   int
}

func (u *unknownFields) add(key string) {
	if u.named < MaxUnknownFields {
		u.fields[key] = "is not a known field"
		u.named++
		return
	}
	u.more++
}

func (u *unknownFields) done() {
	if u.more > 0 {
		u.fields["_unknown"] = fmt.Sprintf("%d more unknown fields", u.more)
	}
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
	unknown := &unknownFields{fields: fields}
	if err := bindStruct(obj, reflect.ValueOf(dst).Elem(), "", fields, unknown); err != nil {
		return err
	}
	unknown.done()
	if len(fields) > 0 {
		return Invalid(fields)
	}
	return v.Struct(dst)
}

// bindStruct decodes obj into the struct sv, recursing into lists of
// structs so that unknown keys inside them are refused too. A type's
// UnmarshalJSON may refuse the whole request with a *Error (e.g. 413).
func bindStruct(obj map[string]json.RawMessage, sv reflect.Value, prefix string, fields map[string]string, unknown *unknownFields) error {
	index := jsonFieldIndex(sv.Type())
	for k, raw := range obj {
		i, ok := index[k]
		if !ok {
			unknown.add(prefix + k)
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
				if err := bindStruct(it, out.Index(j), fmt.Sprintf("%s%s[%d].", prefix, k, j), fields, unknown); err != nil {
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
