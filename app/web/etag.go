package web

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// ETag is the strong entity tag of a record version.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// WeakETag tags a response body (lists), weakly.
func WeakETag(body []byte) string {
	h := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(h[:8]) + `"`
}

// Precondition is a request's If-Match (RFC 9110 §13.1.1).
type Precondition struct {
	// Sent is false when the request has no If-Match.
	Sent bool
	// Any is If-Match: * (any current version of an existing record).
	Any bool
	// Versions are the record versions named by strong entity tags.
	Versions []int64
}

// IfMatch parses If-Match. Its comparison is strong: a weak tag (W/"2")
// never matches, and a list matches when any strong tag names the current
// version.
func IfMatch(c *fiber.Ctx) Precondition {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" {
		return Precondition{}
	}
	pc := Precondition{Sent: true}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "*" {
			pc.Any = true
			continue
		}
		if !strings.HasPrefix(part, `"`) || !strings.HasSuffix(part, `"`) || len(part) < 2 {
			continue // weak or malformed: matches nothing
		}
		if n, err := strconv.ParseInt(part[1:len(part)-1], 10, 64); err == nil && n > 0 {
			pc.Versions = append(pc.Versions, n)
		}
	}
	return pc
}

// AnyVersion reports whether the write applies to whatever version is
// current (If-Match: *, or no If-Match where it is not required): a write
// that another one overtakes is then redone on the new version, rather
// than refused.
func (pc Precondition) AnyVersion(required bool) bool {
	return pc.Any || (!pc.Sent && !required)
}

// Expect is the version a write may replace, given the record's current
// version: the current one for "*" or a tag that names it; otherwise a
// 412 (the record changed, or the tag is weak) with the current ETag.
// Without If-Match it is a 428 carrying the current ETag when required,
// else the current version (last write wins).
func (pc Precondition) Expect(current int64, required bool) (int64, error) {
	tag := map[string]string{fiber.HeaderETag: ETag(current)}
	switch {
	case !pc.Sent && required:
		return 0, &Error{Status: 428, Code: CodePreconditionRequired, Headers: tag,
			Message: "Send If-Match with the record's ETag (" + ETag(current) + ") to change it.",
			Detail:  "A write based on what you read must say which version it read, so that no one's change is lost."}
	case !pc.Sent, pc.Any:
		return current, nil
	}
	for _, v := range pc.Versions {
		if v == current {
			return current, nil
		}
	}
	return 0, &Error{Status: 412, Code: CodePreconditionFailed, Headers: tag,
		Message: "The record was changed by someone else.",
		Detail:  "If-Match does not name its current version " + ETag(current) + " (weak tags never match); fetch it again and re-apply your change."}
}

// NoneMatch reports whether If-None-Match names etag (weak comparison, as
// RFC 9110 requires for If-None-Match), or is "*".
func NoneMatch(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" || etag == "" {
		return false
	}
	bare := strings.TrimPrefix(etag, "W/")
	for _, part := range strings.Split(ifNoneMatch, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == bare {
			return true
		}
	}
	return false
}

// PathID is the :id parameter as a positive integer, else a 404 of what.
func PathID(c *fiber.Ctx, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, NotFound(what)
	}
	return id, nil
}
