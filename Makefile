# Tienda. The two commands a newcomer needs: `make run` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/tienda
PKGS     := ./...

.PHONY: run build test test-short generate check-generated check-gqlgen fmt lint vet bench migrate clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

run: build ## build and serve on the local SQLite database (tienda.db), migrating it first
	./$(BIN) serve

build: ## compile bin/tienda (no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tienda

test: ## run every test; PostgreSQL/Redis tests run when TEST_DATABASE_URL/TEST_REDIS_URL are set
	$(GO) test -count=1 -timeout 10m $(PKGS)

generate: ## regenerate templ components (*_templ.go) and the GraphQL executable schema (app/graphql), all committed
	$(GO) tool templ generate
	cd app/graphql && $(GO) tool gqlgen generate

check-generated: ## fail when committed *_templ.go files are stale
	$(GO) tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are stale: run make generate and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || { echo "untracked generated templ files: commit them"; exit 1; }

GQLGEN_OUT := app/graphql/generated.go app/graphql/models_gen.go

check-gqlgen: ## fail when the committed gqlgen output is stale (schema.graphqls or gqlgen.yml changed)
	cd app/graphql && $(GO) tool gqlgen generate
	@git diff --exit-code -- $(GQLGEN_OUT) || { echo "generated GraphQL code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard -- $(GQLGEN_OUT))" || { echo "untracked generated GraphQL code: commit it"; exit 1; }

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

lint: vet ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "not gofmt-ed:"; echo "$$out"; exit 1; }

vet:
	$(GO) vet $(PKGS)

bench: ## Go benchmarks (see docs/benchmarks.md for the HTTP comparison with the peers)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)

migrate: build ## apply pending migrations to DATABASE_URL
	./$(BIN) migrate up

clean: ## remove build output
	rm -rf bin
