package views

import (
	"encoding/json"
	"strconv"

	"github.com/a-h/templ"
)

// ChangelistFragment names the part of a list page that htmx swaps
// (search-as-you-type, pagination): only it is rendered for those requests.
const ChangelistFragment = "changelist"

// htmxConfig keeps htmx within the Content-Security-Policy: no inline
// indicator styles, no eval, no inline scripts from swapped content.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}`

// csrfHeaders is the hx-headers value that sends the CSRF token with
// every htmx request.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-Csrf-Token": token})
	return string(b)
}

// inputAttrs derives an input's attributes from the field's rules.
func inputAttrs(f Field) templ.Attributes {
	a := templ.Attributes{"id": "id_" + f.Name, "name": f.Name}
	if f.Required {
		a["required"] = true
	}
	if f.MaxLength > 0 {
		a["maxlength"] = strconv.Itoa(f.MaxLength)
	}
	if f.MinLength > 0 {
		a["minlength"] = strconv.Itoa(f.MinLength)
	}
	if f.Min != "" {
		a["min"] = f.Min
	}
	if f.Max != "" {
		a["max"] = f.Max
	}
	if f.Step != "" {
		a["step"] = f.Step
		a["inputmode"] = "decimal"
		if f.Step == "1" {
			a["inputmode"] = "numeric"
		}
	}
	if f.Autocomplete != "" {
		a["autocomplete"] = f.Autocomplete
	}
	if f.Error != "" {
		a["aria-invalid"] = "true"
		a["aria-describedby"] = "id_" + f.Name + "_error"
	} else if f.Help != "" {
		a["aria-describedby"] = "id_" + f.Name + "_help"
	}
	return a
}

func itoa(n int) string { return strconv.Itoa(n) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
