package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "development" || c.Port != "8080" || c.DatabaseURL != "tienda.db" || c.LogFormat != "text" ||
		c.MaxRequestSize != 2<<20 || c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 7*24*time.Hour ||
		c.DBMaxOpenConns != 10 || c.ShutdownTimeout != 25*time.Second || c.RequestTimeout != 10*time.Second || !c.RequireIfMatch {
		t.Fatalf("defaults: %+v", c)
	}
	p, err := Load(envOf(map[string]string{"APP_ENV": "production", "SECRET_KEY": strings.Repeat("x1", 20)}))
	if err != nil || p.LogFormat != "json" {
		t.Fatalf("production defaults: %v %+v", err, p)
	}
}

func TestLoadConfigGraphQLIntrospection(t *testing.T) {
	for v, want := range map[string]bool{"": true, "true": true, "on": true, "1": true, "false": false, "off": false, "0": false} {
		c, err := Load(envOf(map[string]string{"GRAPHQL_INTROSPECTION": v}))
		if err != nil || c.GraphQLIntrospection != want {
			t.Fatalf("GRAPHQL_INTROSPECTION=%q: %v, introspection %v, want %v", v, err, c.GraphQLIntrospection, want)
		}
	}
}

func TestLoadConfigRefusesBadValues(t *testing.T) {
	strong := strings.Repeat("ab", 20)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret in production", map[string]string{"APP_ENV": "production"}, "SECRET_KEY is required"},
		{"short secret", map[string]string{"APP_ENV": "production", "SECRET_KEY": "0123456789"}, "too weak"},
		{"well-known secret", map[string]string{"APP_ENV": "production", "SECRET_KEY": "super-secret"}, "too weak"},
		{"changeme", map[string]string{"APP_ENV": "production", "SECRET_KEY": "CHANGEME"}, "too weak"},
		{"wildcard CORS in production", map[string]string{"APP_ENV": "production", "SECRET_KEY": strong, "CORS_ORIGINS": "https://a.example, *"}, "CORS_ORIGINS"},
		{"unknown env", map[string]string{"APP_ENV": "staging"}, "APP_ENV"},
		{"bad port", map[string]string{"PORT": "http"}, "PORT"},
		{"bad size", map[string]string{"MAX_REQUEST_SIZE": "-5"}, "MAX_REQUEST_SIZE"},
		{"bad ttl", map[string]string{"ACCESS_TOKEN_TTL": "soon"}, "ACCESS_TOKEN_TTL"},
		{"bad request timeout", map[string]string{"REQUEST_TIMEOUT": "0s"}, "REQUEST_TIMEOUT"},
		{"bad REQUIRE_IF_MATCH", map[string]string{"REQUIRE_IF_MATCH": "sometimes"}, "REQUIRE_IF_MATCH"},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, example.com"}, "TRUSTED_PROXIES"},
		{"bad introspection switch", map[string]string{"GRAPHQL_INTROSPECTION": "maybe"}, "GRAPHQL_INTROSPECTION"},
		{"max tokens 0", map[string]string{"CHAT_MAX_TOKENS": "0"}, "CHAT_MAX_TOKENS"},
		{"max tokens too many", map[string]string{"CHAT_MAX_TOKENS": "1000000"}, "CHAT_MAX_TOKENS"},
		{"max tokens not a number", map[string]string{"CHAT_MAX_TOKENS": "lots"}, "CHAT_MAX_TOKENS"},
		{"bad index job timeout", map[string]string{"CHAT_INDEX_JOB_TIMEOUT": "forever"}, "CHAT_INDEX_JOB_TIMEOUT"},
		{"zero index job timeout", map[string]string{"CHAT_INDEX_JOB_TIMEOUT": "0s"}, "CHAT_INDEX_JOB_TIMEOUT"},
		{"bad query embed timeout", map[string]string{"LLM_QUERY_EMBED_TIMEOUT": "-1s"}, "LLM_QUERY_EMBED_TIMEOUT"},
		{"min similarity not a number", map[string]string{"CHAT_MIN_SIMILARITY": "high"}, "CHAT_MIN_SIMILARITY"},
		{"min similarity above 1", map[string]string{"CHAT_MIN_SIMILARITY": "1.5"}, "CHAT_MIN_SIMILARITY"},
		{"min similarity below 0", map[string]string{"CHAT_MIN_SIMILARITY": "-0.1"}, "CHAT_MIN_SIMILARITY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(envOf(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoadQueryEmbedTimeout(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil || c.Chat.QueryEmbedTimeout != 0 || c.QueryEmbedTimeout() != DefaultQueryEmbedTimeout {
		t.Fatalf("default: %v %v", c.QueryEmbedTimeout(), err)
	}
	c, err = Load(envOf(map[string]string{"LLM_TIMEOUT": "2s"}))
	if err != nil || c.QueryEmbedTimeout() != 2*time.Second {
		t.Fatalf("a query's embedding waits no longer than LLM_TIMEOUT: %v %v", c.QueryEmbedTimeout(), err)
	}
	c, err = Load(envOf(map[string]string{"LLM_QUERY_EMBED_TIMEOUT": "800ms"}))
	if err != nil || c.QueryEmbedTimeout() != 800*time.Millisecond {
		t.Fatalf("set: %v %v", c.QueryEmbedTimeout(), err)
	}
}

func TestLoadChatMaxTokens(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil || c.Chat.MaxTokens != 1024 {
		t.Fatalf("default: %v %v", c.Chat.MaxTokens, err)
	}
	c, err = Load(envOf(map[string]string{"CHAT_MAX_TOKENS": "256"}))
	if err != nil || c.Chat.MaxTokens != 256 {
		t.Fatalf("set: %v %v", c.Chat.MaxTokens, err)
	}
}

func TestLoadChatMinSimilarity(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil || c.Chat.MinSimilarity != 0.25 {
		t.Fatalf("default: %v %v", c.Chat.MinSimilarity, err)
	}
	c, err = Load(envOf(map[string]string{"CHAT_MIN_SIMILARITY": "0.4"}))
	if err != nil || c.Chat.MinSimilarity != 0.4 {
		t.Fatalf("set: %v %v", c.Chat.MinSimilarity, err)
	}
}

func TestLoadIndexJobTimeout(t *testing.T) {
	c, err := Load(envOf(nil))
	if err != nil || c.Chat.IndexJobTimeout != 10*time.Minute {
		t.Fatalf("default: %v %v", c.Chat.IndexJobTimeout, err)
	}
	c, err = Load(envOf(map[string]string{"CHAT_INDEX_JOB_TIMEOUT": "90s"}))
	if err != nil || c.Chat.IndexJobTimeout != 90*time.Second {
		t.Fatalf("set: %v %v", c.Chat.IndexJobTimeout, err)
	}
}

func TestReadDotEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	content := "# comment\nPORT=9090\nexport LOG_LEVEL=debug\nSECRET_KEY=\"quoted value\"\nnot a pair\n\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	vals, err := ReadDotEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	if vals["PORT"] != "9090" || vals["LOG_LEVEL"] != "debug" || vals["SECRET_KEY"] != "quoted value" || len(vals) != 3 {
		t.Fatalf("parsed %v", vals)
	}
	if vals, err := ReadDotEnv(filepath.Join(dir, "missing")); err != nil || len(vals) != 0 {
		t.Fatalf("missing file: %v %v", vals, err)
	}
}

func TestLoadConfigCurrency(t *testing.T) {
	env := func(vals map[string]string) func(string) string {
		return func(k string) string {
			if k == "SECRET_KEY" {
				return "test-secret-key-that-is-long-enough-0123456789"
			}
			return vals[k]
		}
	}
	c, err := Load(env(nil))
	if err != nil || c.Currency != "EUR" {
		t.Fatalf("default currency %q, %v", c.Currency, err)
	}
	if c, err = Load(env(map[string]string{"CURRENCY": " usd "})); err != nil || c.Currency != "USD" {
		t.Fatalf("CURRENCY=usd: %q, %v", c.Currency, err)
	}
	for _, bad := range []string{"EURO", "E1R", "€", "US"} {
		if _, err := Load(env(map[string]string{"CURRENCY": bad})); err == nil || !strings.Contains(err.Error(), "CURRENCY") {
			t.Errorf("CURRENCY=%q accepted: %v", bad, err)
		}
	}
}
