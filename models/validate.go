package models

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"
)

// Validator checks structs against their `validate` tags and turns failures
// into messages keyed by JSON name. The same messages serve the API's
// "fields" and the admin's inline errors.
type Validator struct {
	v *validator.Validate
}

// NewValidator builds the validator with the project's custom rules.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonName)
	// Money validates as its cents, or as nil when unset (so `required` works).
	v.RegisterCustomTypeFunc(func(f reflect.Value) any {
		m, ok := f.Interface().(Money)
		if !ok || !m.IsSet() {
			return nil
		}
		c := m.CentsValue()
		return &c // a pointer, so that `required` accepts a set 0.00
	}, Money{})
	must(v.RegisterValidation("singleline", func(fl validator.FieldLevel) bool {
		return !strings.ContainsFunc(fl.Field().String(), unicode.IsControl)
	}))
	must(v.RegisterValidation("notblank", func(fl validator.FieldLevel) bool {
		return strings.TrimSpace(fl.Field().String()) != ""
	}))
	must(v.RegisterValidation("username", func(fl validator.FieldLevel) bool {
		return !strings.ContainsFunc(fl.Field().String(), func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@.+-_", r))
		})
	}))
	must(v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		return !strings.ContainsFunc(fl.Field().String(), func(r rune) bool {
			return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
		})
	}))
	return &Validator{v: v}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Struct validates s; it returns nil or a *ValidationError. Besides the
// tags, every string field of s is checked for NUL bytes and invalid UTF-8
// (see TextProblem), with no tag to remember: those messages win over the
// tags' for the same field.
func (val *Validator) Struct(s any) error {
	fields := map[string]string{}
	textProblems(reflect.ValueOf(s), "", fields, 0)
	err := val.v.Struct(s)
	if err == nil && len(fields) == 0 {
		return nil
	}
	var verrs validator.ValidationErrors
	if err != nil && !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	root := reflect.TypeOf(s)
	for _, fe := range verrs {
		// The JSON path without the root type: "price", "history[0].role".
		key := fe.Field()
		if _, path, ok := strings.Cut(fe.Namespace(), "."); ok {
			key = path
		}
		if _, dup := fields[key]; !dup {
			param := fe.Param()
			if isMoney(fieldType(root, fe.StructNamespace())) {
				param = moneyParam(fe.Tag(), param)
			}
			fields[key] = Message(fe.Tag(), param, fe.Kind())
		}
	}
	return &ValidationError{Fields: fields}
}

// textProblems records a TextProblem for each string field of v (strings,
// *string and []string; nested structs with their JSON name as a prefix,
// embedded ones without), keyed like the tags' messages.
func textProblems(v reflect.Value, prefix string, out map[string]string, depth int) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct || depth > 4 {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := jsonName(sf)
		if name == "" {
			name = sf.Name // not in JSON, but still stored
		}
		key := prefix + name
		fv := v.Field(i)
		switch {
		case sf.Anonymous:
			textProblems(fv, prefix, out, depth+1)
		case fv.Kind() == reflect.String:
			reportText(out, key, fv.String())
		case fv.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.String:
			if !fv.IsNil() {
				reportText(out, key, fv.Elem().String())
			}
		case fv.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
			// Each element is named, as the validator names them: input[1].
			for j := range fv.Len() {
				reportText(out, fmt.Sprintf("%s[%d]", key, j), fv.Index(j).String())
			}
		case fv.Kind() == reflect.Slice:
			for j := range fv.Len() {
				textProblems(fv.Index(j), fmt.Sprintf("%s[%d].", key, j), out, depth+1)
			}
		default:
			textProblems(fv, key+".", out, depth+1)
		}
	}
}

func reportText(out map[string]string, key, s string) {
	if _, dup := out[key]; dup {
		return
	}
	if msg := TextProblem(s); msg != "" {
		out[key] = msg
	}
}

// jsonName is the field's JSON name ("" for json:"-"), as the validator
// reports it.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// fieldType finds the type of the field at a validator namespace such as
// "Product.Price" (nil when it cannot be followed).
func fieldType(root reflect.Type, ns string) reflect.Type {
	parts := strings.Split(ns, ".")
	t := root
	for _, part := range parts[1:] {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return nil
		}
		name, _, indexed := strings.Cut(part, "[")
		f, ok := t.FieldByName(name)
		if !ok {
			return nil
		}
		t = f.Type
		if indexed && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
	}
	return t
}

var moneyType = reflect.TypeFor[Money]()

func isMoney(t reflect.Type) bool {
	return t == moneyType || (t != nil && t.Kind() == reflect.Pointer && t.Elem() == moneyType)
}

// moneyParam turns a bound on Money, written in cents in the tag (the
// validator compares cents), into the amount users see: "9999999999"
// becomes "99999999.99", "0" stays "0".
func moneyParam(tag, param string) string {
	switch tag {
	case "min", "max", "gte", "lte", "gt", "lt":
	default:
		return param
	}
	c, err := strconv.ParseInt(param, 10, 64)
	if err != nil {
		return param
	}
	if c%100 == 0 {
		return strconv.FormatInt(c/100, 10)
	}
	return Cents(c).String()
}

// Message is the human text for a failed rule (without the field name).
func Message(tag, param string, kind reflect.Kind) string {
	isString := kind == reflect.String
	switch tag {
	case "required":
		return "is required"
	case "min", "gte":
		if isString {
			if param == "1" {
				return "must not be empty"
			}
			return "must be at least " + param + " characters"
		}
		return "must be " + param + " or more"
	case "max", "lte":
		if isString {
			return "must be at most " + param + " characters"
		}
		return "must be " + param + " or less"
	case "gt":
		return "must be more than " + param
	case "lt":
		return "must be less than " + param
	case "email":
		return "must be a valid email address"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(param, " ", ", ")
	case "singleline":
		return "must not contain control characters or line breaks"
	case "text":
		return "must not contain control characters"
	case "notblank":
		return "must not be blank"
	case "alphanumunicode", "username":
		return "may contain only letters, digits and @.+-_"
	default:
		return "is invalid"
	}
}

// Rule is one parsed `validate` rule, used to derive HTML input attributes.
type Rule struct {
	Tag   string
	Param string
}

// Rules parses a struct field's validate tag into rules, skipping
// alternatives (|) and dive, which have no HTML equivalent. Bounds of a
// Money field come out as amounts ("99999999.99"), not the tag's cents.
func Rules(f reflect.StructField) []Rule {
	tag := f.Tag.Get("validate")
	if tag == "" {
		return nil
	}
	var out []Rule
	for _, part := range strings.Split(tag, ",") {
		if part == "" || strings.Contains(part, "|") || part == "dive" || part == "omitempty" {
			continue
		}
		t, p, _ := strings.Cut(part, "=")
		if isMoney(f.Type) {
			p = moneyParam(t, p)
		}
		out = append(out, Rule{Tag: t, Param: p})
	}
	return out
}
