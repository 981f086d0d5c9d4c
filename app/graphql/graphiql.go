package graphql

import (
	"html/template"

	"github.com/gofiber/fiber/v2"

	"tienda/app/web"
)

// The vendored files of the GraphiQL page (static/vendor, see their
// VENDOR.md and .ci/vendor-graphiql).
const (
	GraphiQLAssets = "/static/vendor/graphiql@4.1.2"
	ReactAssets    = "/static/vendor/react@18.3.1"
	ReactDOMAssets = "/static/vendor/react-dom@18.3.1"
)

// graphiqlPage loads only files from this server, each script with the
// request's nonce: no inline script or style, so it works under the page
// CSP and offline.
var graphiqlPage = template.Must(template.New("graphiql").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tienda GraphQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.GraphiQL}}/graphiql.min.css">
<link rel="stylesheet" href="/static/css/graphiql.css">
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}"><p class="graphiql-loading">Loading GraphiQL…</p></div>
<script src="{{.React}}/react.production.min.js" nonce="{{.Nonce}}"></script>
<script src="{{.ReactDOM}}/react-dom.production.min.js" nonce="{{.Nonce}}"></script>
<script src="{{.GraphiQL}}/graphiql.min.js" nonce="{{.Nonce}}"></script>
<script src="/static/js/graphiql.js" nonce="{{.Nonce}}"></script>
</body>
</html>
`))

// GraphiQL: GET /api/graphiql, the in-browser IDE for the endpoint. The
// page is public, like /api/docs; the queries it sends carry the token or
// key the user puts in its Headers tab.
func (h *Handler) GraphiQL(c *fiber.Ctx) error {
	c.Type("html", "utf-8")
	return graphiqlPage.Execute(c.Response().BodyWriter(), struct{ GraphiQL, React, ReactDOM, Endpoint, Nonce string }{
		GraphiQLAssets, ReactAssets, ReactDOMAssets, Path, web.Nonce(c)})
}
