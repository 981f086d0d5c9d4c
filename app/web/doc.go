// Package web is Tienda's HTTP vocabulary, shared by every handler
// package: the error type and its one mapping to a status and envelope,
// strict JSON decoding, the authenticated principal and its permission
// check, the client's address, conditional-request helpers, the
// request-scoped logger and correlation id, and the Server-Sent Events
// writer. It imports no other package of Tienda but models.
package web
