package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tienda/models"
)

// Stable error codes of the API's error envelope.
const (
	CodeValidation         = "VALIDATION_ERROR"
	CodeBadRequest         = "BAD_REQUEST"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeForbidden          = "FORBIDDEN"
	CodeConflict           = "CONFLICT"
	CodePreconditionFailed = "PRECONDITION_FAILED"
	CodeRateLimited        = "RATE_LIMITED"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeLLMTimeout         = "LLM_TIMEOUT"
	CodeLLMUnavailable     = "LLM_UNAVAILABLE"
	CodeUnavailable        = "SERVICE_UNAVAILABLE"
	CodeInternal           = "INTERNAL"
)

// APIError is an error with its HTTP status and envelope fields.
type APIError struct {
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

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Errorf-style constructors for the common cases.
func errBadRequest(msg, detail string) *APIError {
	return &APIError{Status: 400, Code: CodeBadRequest, Message: msg, Detail: detail}
}

func errValidation(fields map[string]string) *APIError {
	return &APIError{Status: 422, Code: CodeValidation, Message: "The request has invalid fields.", Fields: fields}
}

func errUnauthorized(detail string) *APIError {
	return &APIError{Status: 401, Code: CodeUnauthorized, Message: "Authentication required.", Detail: detail,
		Headers: map[string]string{"WWW-Authenticate": `Bearer realm="tienda"`}}
}

func errForbidden(detail string) *APIError {
	return &APIError{Status: 403, Code: CodeForbidden, Message: "You do not have permission to do this.", Detail: detail}
}

func errNotFound(what string) *APIError {
	return &APIError{Status: 404, Code: CodeNotFound, Message: what + " not found."}
}

// toAPIError maps any error to the envelope. Unknown errors become a 500
// that says nothing about internals.
func toAPIError(err error) *APIError {
	var ae *APIError
	var ve *models.ValidationError
	var ce *models.ConflictError
	var vc *models.VersionConflictError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		return errValidation(ve.Fields)
	case errors.Is(err, models.ErrNotFound):
		return errNotFound("Object")
	case errors.As(err, &ce):
		return &APIError{Status: 409, Code: CodeConflict, Message: "A record with this value already exists.",
			Fields: map[string]string{ce.Field: ce.Message}}
	case errors.As(err, &vc):
		return &APIError{Status: 412, Code: CodePreconditionFailed, Message: "The record was changed by someone else.",
			Detail:  "Fetch it again (current version " + itoa(vc.Current.GetVersion()) + ") and re-apply your change.",
			Headers: map[string]string{"ETag": etag(vc.Current.GetVersion())}}
	case errors.As(err, &fe):
		return fromFiber(fe)
	case errors.Is(err, context.DeadlineExceeded):
		return &APIError{Status: 503, Code: CodeUnavailable, Message: "The server took too long to answer."}
	default:
		return &APIError{Status: 500, Code: CodeInternal, Message: "Internal server error."}
	}
}

func fromFiber(fe *fiber.Error) *APIError {
	code := map[int]string{
		400: CodeBadRequest, 401: CodeUnauthorized, 403: CodeForbidden, 404: CodeNotFound,
		405: CodeMethodNotAllowed, 409: CodeConflict, 412: CodePreconditionFailed, 413: CodePayloadTooLarge,
		415: CodeUnsupportedMedia, 422: CodeValidation, 429: CodeRateLimited, 431: CodeBadRequest,
	}[fe.Code]
	if code == "" {
		if fe.Code >= 500 {
			return &APIError{Status: 500, Code: CodeInternal, Message: "Internal server error."}
		}
		code = CodeBadRequest
	}
	msg := http.StatusText(fe.Code) + "."
	if fe.Code == 413 {
		msg = "The request body is too large."
	}
	return &APIError{Status: fe.Code, Code: code, Message: msg}
}

// errorHandler is Fiber's one error handler: every error of every route
// ends here. API paths get the JSON envelope; admin pages get HTML.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	ae := toAPIError(err)
	cid := correlationID(c)
	log := s.logFor(c)
	if ae.Status >= 500 {
		// The cause is logged with the correlation id, never sent to the client.
		log.ErrorContext(c.UserContext(), "request failed", "err", err, "status", ae.Status)
	}
	if s.htmlErrors != nil && wantsHTML(c) {
		return s.htmlErrors(c, ae)
	}
	out := *ae
	out.CorrelationID = cid
	for k, v := range ae.Headers {
		c.Set(k, v)
	}
	if ae.Status == 405 {
		if allow := string(c.Response().Header.Peek(fiber.HeaderAllow)); allow != "" {
			c.Set(fiber.HeaderAllow, allow)
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(ae.Status).JSON(out)
}

// wantsHTML is true for browser pages (the admin), false for the API.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/admin" || strings.HasPrefix(p, "/admin/")
}

func (s *Server) logFor(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.Locals(localLogger).(*slog.Logger); ok {
		return l
	}
	return s.log.With("correlation_id", correlationID(c))
}
