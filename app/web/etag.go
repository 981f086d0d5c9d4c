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

// IfMatch returns the version the client says it has (If-Match), or 0
// when it sent none. "*" matches any version.
func IfMatch(c *fiber.Ctx) (int64, bool, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return 0, false, nil
	}
	for _, part := range strings.Split(h, ",") {
		v := strings.Trim(strings.TrimPrefix(strings.TrimSpace(part), "W/"), `"`)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return n, true, nil
		}
	}
	return 0, true, &Error{Status: 412, Code: CodePreconditionFailed, Message: "If-Match does not match the record's ETag."}
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
