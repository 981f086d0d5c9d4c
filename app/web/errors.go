package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tienda/models"
)

// Stable error codes of the API's error envelope.
const (
	CodeValidation           = "VALIDATION_ERROR"
	CodeBadRequest           = "BAD_REQUEST"
	CodeNotFound             = "NOT_FOUND"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	CodeUnauthorized         = "UNAUTHORIZED"
	CodeForbidden            = "FORBIDDEN"
	CodeConflict             = "CONFLICT"
	CodePreconditionFailed   = "PRECONDITION_FAILED"
	CodePreconditionRequired = "PRECONDITION_REQUIRED"
	CodeRateLimited          = "RATE_LIMITED"
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia     = "UNSUPPORTED_MEDIA_TYPE"
	CodeLLMTimeout           = "LLM_TIMEOUT"
	CodeLLMUnavailable       = "LLM_UNAVAILABLE"
	CodeUnavailable          = "SERVICE_UNAVAILABLE"
	CodeInternal             = "INTERNAL"
)

// Error is an error with its HTTP status and envelope fields.
type Error struct {
	Status  int               `json:"-"`
	Message string            `json:"error"`
	Detail  string            `json:"detail,omitempty"`
	Code    string            `json:"code"`
	Fields  map[string]string `json:"fields,omitempty"`
	// CorrelationID is filled in by the error handler.
	CorrelationID string `json:"correlation_id,omitempty"`
	// Headers are set on the response (e.g. Retry-After, WWW-Authenticate).
	Headers map[string]string `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// BadRequest is a 400.
func BadRequest(msg, detail string) *Error {
	return &Error{Status: 400, Code: CodeBadRequest, Message: msg, Detail: detail}
}

// Invalid is a 422 naming the bad fields.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: 422, Code: CodeValidation, Message: "The request has invalid fields.", Fields: fields}
}

// Unauthorized is a 401 asking for a bearer token.
func Unauthorized(detail string) *Error {
	return &Error{Status: 401, Code: CodeUnauthorized, Message: "Authentication required.", Detail: detail,
		Headers: map[string]string{"WWW-Authenticate": `Bearer realm="tienda"`}}
}

// Forbidden is a 403.
func Forbidden(detail string) *Error {
	return &Error{Status: 403, Code: CodeForbidden, Message: "You do not have permission to do this.", Detail: detail}
}

// NotFound is a 404 for what ("Product").
func NotFound(what string) *Error {
	return &Error{Status: 404, Code: CodeNotFound, Message: what + " not found."}
}

// TooLarge is a 413 for a body over limit bytes.
func TooLarge(limit int) *Error {
	return &Error{Status: 413, Code: CodePayloadTooLarge, Message: "The request body is too large.",
		Detail: "The limit is " + strconv.Itoa(limit) + " bytes."}
}

// Unavailable is a 503 with Retry-After: a dependency is down or too slow.
func Unavailable(msg string) *Error {
	return &Error{Status: 503, Code: CodeUnavailable, Message: msg, Headers: map[string]string{fiber.HeaderRetryAfter: "5"}}
}

// AsError maps any error to the envelope: the one mapping of domain
// errors to statuses. Unknown errors become a 500 that says nothing about
// internals.
func AsError(err error) *Error {
	var ae *Error
	var ve *models.ValidationError
	var ce *models.ConflictError
	var vc *models.VersionConflictError
	var fe *fiber.Error
	var pd *models.PermissionDenied
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &pd):
		return Forbidden("This needs the " + pd.Codename + " permission.")
	case errors.As(err, &ve):
		return Invalid(ve.Fields)
	case errors.Is(err, models.ErrNotFound):
		return NotFound("Object")
	case errors.As(err, &ce):
		return &Error{Status: 409, Code: CodeConflict, Message: "A record with this value already exists.",
			Fields: map[string]string{ce.Field: ce.Message}}
	case errors.As(err, &vc):
		return &Error{Status: 412, Code: CodePreconditionFailed, Message: "The record was changed by someone else.",
			Detail:  "Fetch it again (current version " + strconv.FormatInt(vc.Current.GetVersion(), 10) + ") and re-apply your change.",
			Headers: map[string]string{"ETag": ETag(vc.Current.GetVersion())}}
	case errors.As(err, &fe):
		return fromFiber(fe)
	case errors.Is(err, context.DeadlineExceeded):
		return Unavailable("The server took too long to answer.")
	case models.Unavailable(err):
		// The database is down or did not answer in time: retry later.
		return Unavailable("The database is unavailable; try again shortly.")
	default:
		return &Error{Status: 500, Code: CodeInternal, Message: "Internal server error."}
	}
}

func fromFiber(fe *fiber.Error) *Error {
	code := map[int]string{
		400: CodeBadRequest, 401: CodeUnauthorized, 403: CodeForbidden, 404: CodeNotFound,
		405: CodeMethodNotAllowed, 409: CodeConflict, 412: CodePreconditionFailed, 413: CodePayloadTooLarge,
		415: CodeUnsupportedMedia, 422: CodeValidation, 429: CodeRateLimited, 431: CodeBadRequest,
	}[fe.Code]
	if code == "" {
		if fe.Code >= 500 {
			return &Error{Status: 500, Code: CodeInternal, Message: "Internal server error."}
		}
		code = CodeBadRequest
	}
	msg := http.StatusText(fe.Code) + "."
	if fe.Code == 413 {
		msg = "The request body is too large."
	}
	return &Error{Status: fe.Code, Code: code, Message: msg}
}
