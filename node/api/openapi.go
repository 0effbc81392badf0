package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 description of the local API (openapi.json
// beside this file), served at GET /v1/openapi.json behind the bearer
// token like every other endpoint. A test in package node starts a real
// node and checks it against the server: every registered route is
// documented and every documented operation is routed, request bodies
// match the Go request structs, error responses use the Error schema, and
// the answers the node gives match the documented schemas.
//
//go:embed openapi.json
var OpenAPI []byte

// serveOpenAPI answers GET /v1/openapi.json.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(OpenAPI)
}
