package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPISpec is the OpenAPI 3.1 description of every endpoint New serves
// (and of the webhooks sluice sends), served at GET /openapi.yaml. The
// tests check it against the router's routes and the running server's
// real requests and responses.
//
//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPI returns the OpenAPI 3.1 description of the HTTP API (YAML).
func OpenAPI() []byte { return append([]byte(nil), openAPISpec...) }

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", openAPISpec)
}
