# Tienda. The two commands a newcomer needs: `make run` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/tienda
PKGS     := ./...
FUZZTIME ?= 20s

# Tools CI uses, pinned in their own module (not the application's go.mod).
TOOL     := $(GO) tool -modfile=.ci/tools/go.mod
# The tests of app/ that run goroutines of their own (streams, concurrent
# clients, deadlines, shutdown); the race detector runs them and every
# test of the packages below (make test-race).
RACE_APP := Concurrent|Deadline|HungDatabase|RateLimit|Stream|Shutdown|Session|Cache|Redis|Index|Throttle|LLMBoundary|ClientGone|Budget|Watch|Export
RACE_PKGS := ./app/stack/... ./app/kv/... ./app/chat/... ./app/auth/... ./app/api/... ./models/...

.PHONY: run build test test-race fuzz generate check-generated check-gqlgen fmt lint vet vuln check bench migrate clean help

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

test-race: ## the race detector over the packages that start goroutines
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)
	$(GO) test -race -count=1 -timeout 10m -run '$(RACE_APP)' ./app/

fuzz: ## each fuzz target for FUZZTIME (default 20s), from its committed corpus (testdata/fuzz)
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./app/web/
	$(GO) test -run '^$$' -fuzz '^FuzzFormBinding$$' -fuzztime $(FUZZTIME) ./app/admin/
	$(GO) test -run '^$$' -fuzz '^FuzzListQuery$$' -fuzztime $(FUZZTIME) ./models/

lint: vet ## gofmt check, go vet and golangci-lint (.golangci.yml: staticcheck, errorlint, forcetypeassert, unused, depguard)
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "not gofmt-ed:"; echo "$$out"; exit 1; }
	$(TOOL) golangci-lint run ./...

vet:
	$(GO) vet $(PKGS)

vuln: ## known vulnerabilities in the modules and the standard library that the code reaches
	$(TOOL) govulncheck ./...

check: lint check-generated test test-race build ## what CI runs, but the services (set TEST_DATABASE_URL / TEST_REDIS_URL for them)

bench: ## Go benchmarks (see docs/benchmarks.md for the HTTP comparison with the peers)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)

migrate: build ## apply pending migrations to DATABASE_URL
	./$(BIN) migrate up

clean: ## remove build output
	rm -rf bin
