// Package config reads all of Tienda's configuration from the environment
// (and development's .env), validating every value once at start-up.
package config

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tienda/models"
)

// Config is everything the server reads from the environment.
type Config struct {
	Env            string // development | production
	Port           string
	DatabaseURL    string
	SecretKey      string
	CORSOrigins    []string
	MaxRequestSize int
	// Currency is the ISO 4217 code the admin shows money in (CURRENCY,
	// default EUR); prices carry no currency of their own.
	Currency        string
	RedisURL        string
	LogLevel        string
	LogFormat       string // json | text
	TrustedProxies  []string
	DBMaxOpenConns  int
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	ShutdownTimeout time.Duration
	// RequireIfMatch makes a PUT, PATCH or DELETE of an existing record
	// without If-Match a 428 (REQUIRE_IF_MATCH, default true).
	RequireIfMatch bool
	// RequestTimeout is every request's deadline (REQUEST_TIMEOUT); chat,
	// search and embeddings get LLMTimeout on top, event streams and
	// exports have their own.
	RequestTimeout time.Duration
	LLMBaseURL     string
	LLMAPIKey      string
	LLMModel       string
	LLMEmbedModel  string
	LLMTimeout     time.Duration
	MetricsToken   string
	// GraphQLIntrospection answers __schema and __type queries on
	// /api/v1/graphql (GRAPHQL_INTROSPECTION, default on).
	GraphQLIntrospection bool
	// Prod configures the production stack (rate limits, cache, metrics, tracing).
	Prod ProdConfig
	Chat ChatConfig
	// SecretKeyGenerated is true when development generated the key.
	SecretKeyGenerated bool
}

// Production reports whether APP_ENV=production.
func (c Config) Production() bool { return c.Env == "production" }

// weakSecrets are refused in production whatever their length.
var weakSecrets = map[string]bool{
	"secret": true, "super-secret": true, "supersecret": true, "changeme": true, "change-me": true,
	"password": true, "secret-key": true, "secret_key": true, "your-secret-key": true, "dev": true,
	"development": true, "test": true, "tienda": true, "please-change-me": true,
}

// MinSecretKeyLength is the shortest SECRET_KEY accepted in production.
const MinSecretKeyLength = 32

// ReadDotEnv reads KEY=VALUE lines from path (development's .env). A
// missing file is not an error. Values never override the real environment:
// the caller consults the environment first.
func ReadDotEnv(path string) (map[string]string, error) {
	vals := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return vals, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vals, nil
}

// Load reads the configuration from getenv. It fails with one clear
// message when a value is invalid, or when production lacks a strong key.
func Load(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Env:          get("APP_ENV", "development"),
		Port:         get("PORT", "8080"),
		DatabaseURL:  get("DATABASE_URL", "tienda.db"),
		SecretKey:    getenv("SECRET_KEY"),
		RedisURL:     get("REDIS_URL", ""),
		LogLevel:     get("LOG_LEVEL", "info"),
		LLMBaseURL:   get("LLM_BASE_URL", ""),
		LLMAPIKey:    getenv("LLM_API_KEY"),
		LLMModel:     get("LLM_MODEL", ""),
		MetricsToken: getenv("METRICS_TOKEN"),
	}
	c.LLMEmbedModel = get("LLM_EMBEDDING_MODEL", "")
	switch v := get("REQUIRE_IF_MATCH", "true"); v {
	case "true", "1", "on":
		c.RequireIfMatch = true
	case "false", "0", "off":
	default:
		return c, fmt.Errorf("REQUIRE_IF_MATCH must be true or false, not %q", v)
	}
	chatCfg, cerr := loadChatConfig(get)
	if cerr != nil {
		return c, cerr
	}
	c.Chat = chatCfg
	if c.Env != "development" && c.Env != "production" {
		return c, fmt.Errorf("APP_ENV must be development or production, not %q", c.Env)
	}
	def := "text"
	if c.Production() {
		def = "json"
	}
	c.LogFormat = get("LOG_FORMAT", def)
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("LOG_FORMAT must be json or text, not %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if _, err := strconv.Atoi(c.Port); err != nil {
		return c, fmt.Errorf("PORT must be a number, not %q", c.Port)
	}
	var err error
	ints := []struct {
		key string
		def int
		dst *int
	}{
		{"MAX_REQUEST_SIZE", 2 << 20, &c.MaxRequestSize},
		{"DB_MAX_OPEN_CONNS", 10, &c.DBMaxOpenConns},
	}
	for _, it := range ints {
		if *it.dst, err = strconv.Atoi(get(it.key, strconv.Itoa(it.def))); err != nil || *it.dst <= 0 {
			return c, fmt.Errorf("%s must be a positive integer", it.key)
		}
	}
	durs := []struct {
		key string
		def string
		dst *time.Duration
	}{
		{"ACCESS_TOKEN_TTL", "15m", &c.AccessTokenTTL},
		{"REFRESH_TOKEN_TTL", "168h", &c.RefreshTokenTTL},
		{"SHUTDOWN_TIMEOUT", "25s", &c.ShutdownTimeout},
		{"REQUEST_TIMEOUT", "10s", &c.RequestTimeout},
		{"LLM_TIMEOUT", "60s", &c.LLMTimeout},
	}
	for _, d := range durs {
		if *d.dst, err = time.ParseDuration(get(d.key, d.def)); err != nil || *d.dst <= 0 {
			return c, fmt.Errorf("%s must be a positive duration such as %s", d.key, d.def)
		}
	}
	c.Currency = strings.ToUpper(strings.TrimSpace(get("CURRENCY", "EUR")))
	if !isCurrencyCode(c.Currency) {
		return c, fmt.Errorf("CURRENCY must be an ISO 4217 code of three letters such as EUR or USD, not %q", c.Currency)
	}
	switch v := get("GRAPHQL_INTROSPECTION", "true"); v {
	case "true", "on", "1":
		c.GraphQLIntrospection = true
	case "false", "off", "0":
	default:
		return c, fmt.Errorf("GRAPHQL_INTROSPECTION must be true or false, not %q", v)
	}
	if c.Prod, err = loadProdConfig(getenv); err != nil {
		return c, err
	}
	c.CORSOrigins = splitList(getenv("CORS_ORIGINS"))
	if err := CheckOrigins(c.CORSOrigins); err != nil {
		return c, err
	}
	c.TrustedProxies = splitList(getenv("TRUSTED_PROXIES"))
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return c, fmt.Errorf("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR range", p)
			}
		}
	}
	if c.Production() {
		if c.SecretKey == "" {
			return c, errors.New("SECRET_KEY is required when APP_ENV=production (use at least 32 random bytes, e.g. `openssl rand -hex 32`)")
		}
		if len(c.SecretKey) < MinSecretKeyLength || weakSecrets[strings.ToLower(c.SecretKey)] {
			return c, fmt.Errorf("SECRET_KEY is too weak for production: use at least %d random bytes, e.g. `openssl rand -hex 32`", MinSecretKeyLength)
		}
		for _, o := range c.CORSOrigins {
			if o == "*" {
				return c, errors.New("CORS_ORIGINS must list origins explicitly in production; \"*\" is refused")
			}
		}
	}
	return c, nil
}

// EnsureDevSecret gives development a stable random SECRET_KEY, kept in a
// file beside the SQLite database so that sessions and tokens survive restarts.
func (c *Config) EnsureDevSecret() error {
	if c.SecretKey != "" || c.Production() {
		return nil
	}
	dir := "."
	if models.DialectOf(c.DatabaseURL) == models.SQLite {
		dir = filepath.Dir(strings.TrimPrefix(c.DatabaseURL, "sqlite://"))
	}
	path := filepath.Join(dir, ".tienda_secret_key")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= MinSecretKeyLength {
		c.SecretKey = strings.TrimSpace(string(b))
		c.SecretKeyGenerated = true
		return nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("generate secret key: %w", err)
	}
	c.SecretKey = hex.EncodeToString(buf)
	c.SecretKeyGenerated = true
	if err := os.WriteFile(path, []byte(c.SecretKey+"\n"), 0o600); err != nil {
		return fmt.Errorf("keep generated secret key in %s: %w", path, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// CheckOrigins refuses values of CORS_ORIGINS that are not origins, at
// start-up (Fiber's CORS middleware would panic on them).
func CheckOrigins(origins []string) error {
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return errors.New("CORS_ORIGINS: " + o + " is not an origin such as https://shop.example.com")
		}
	}
	return nil
}

// isCurrencyCode: three letters A to Z (the form of ISO 4217 codes).
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
