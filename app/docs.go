package app

import (
	"html/template"

	"github.com/gofiber/fiber/v2"
)

// swaggerUI is the vendored Swagger UI (static/vendor, see its VENDOR.md).
const swaggerUI = "/static/vendor/swagger-ui-dist@5.35.0"

// docsPage loads only files from this server: no inline script or style,
// so it works under the page CSP and offline.
var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tienda API</title>
<link rel="stylesheet" href="{{.UI}}/swagger-ui.css">
<link rel="icon" type="image/png" href="{{.UI}}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{{.UI}}/swagger-ui-bundle.js" nonce="{{.Nonce}}"></script>
<script src="/static/js/api-docs.js" nonce="{{.Nonce}}"></script>
</body>
</html>
`))

// handleDocs: GET /api/docs, the interactive API documentation.
func (s *Server) handleDocs(c *fiber.Ctx) error {
	nonce, _ := c.Locals(localNonce).(string)
	c.Type("html", "utf-8")
	return docsPage.Execute(c.Response().BodyWriter(), struct{ UI, Nonce string }{swaggerUI, nonce})
}
