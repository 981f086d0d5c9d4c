package graphql

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	gql "github.com/99designs/gqlgen/graphql"

	"tienda/models"
)

// inputError is a bad input value found while reading arguments; the
// error presenter turns it into VALIDATION_ERROR naming the input.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

// MarshalDecimal writes money as a string with two decimals ("12.50").
func MarshalDecimal(m models.Money) gql.Marshaler {
	return gql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(m.String()))
	})
}

// UnmarshalDecimal reads money from a string, or from a number's decimal
// text: a JSON number in variables keeps its text, and a float literal of
// at most 12 significant digits formats back to the digits written.
func UnmarshalDecimal(v any) (models.Money, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return models.Money{}, &inputError{models.ErrMoneyFormat.Error()}
	}
	m, err := models.ParseMoney(s)
	if errors.Is(err, models.ErrMoneyFormat) {
		return models.Money{}, &inputError{err.Error()}
	}
	return m, err
}

// MarshalString writes a string (gqlgen's own).
func MarshalString(s string) gql.Marshaler { return gql.MarshalString(s) }

// UnmarshalString reads a string, and only a string: gqlgen's own would
// turn a number or a boolean sent in the variables into its text, where
// the REST API answers that the field must be a string.
func UnmarshalString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", &inputError{"must be a string"}
}

// MarshalID writes a record id as a GraphQL ID (a string).
func MarshalID(id int64) gql.Marshaler {
	return gql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10)))
	})
}

// UnmarshalID reads a record id: a positive whole number, as a string or
// a number.
func UnmarshalID(v any) (int64, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		s = fmt.Sprint(v)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, &inputError{"must be a positive whole number"}
	}
	return id, nil
}
