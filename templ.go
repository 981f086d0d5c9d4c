// Package tienda holds the files embedded into the binary: the goose migrations
// and the static assets. It only embeds; all behaviour lives in app/, models/ and views/.
package tienda

import "embed"

//go:generate go tool templ generate

// Migrations holds migrations/sqlite and migrations/postgres: one folder per
// dialect with the same version numbers.
//
//go:embed migrations
var Migrations embed.FS

// Static holds css, js and vendored front-end files served under /static.
//
//go:embed static
var Static embed.FS
