// Package obs holds Tienda's observability: Prometheus metrics and
// OpenTelemetry tracing, in objects the composition root owns.
package obs

import (
	"crypto/subtle"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"tienda/app/web"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics, in a registry the server
// owns (never the global one). Every method is safe on a nil *Metrics, so
// code that records business events needs no check. Other packages call
// the business methods: ObjectChanged, DocumentIndexed, ChatRequest,
// LLMCall, TokensUsed and GraphQLOperation.
type Metrics struct {
	reg         *prometheus.Registry
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	cache       *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	objects     *prometheus.CounterVec
	docsIndexed prometheus.Counter
	chat        *prometheus.CounterVec
	llmLatency  *prometheus.HistogramVec
	llmErrors   *prometheus.CounterVec
	llmTokens   *prometheus.CounterVec
	graphqlOps  *prometheus.CounterVec
	redisFalls  *prometheus.CounterVec
	// graphqlNames are the operation names counted so far (bounded).
	graphqlMu    sync.Mutex
	graphqlNames map[string]bool
}

// NewMetrics registers every metric (and the Go, process and database
// pool collectors when db is not nil) in a new registry.
func NewMetrics(db *sql.DB) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tienda_http_request_duration_seconds", Help: "HTTP request latency by method, route template and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "status"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tienda_http_requests_in_flight", Help: "Requests being served."})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_cache_requests_total",
		Help: "Response cache lookups by resource and result (hit, miss)."}, []string{"resource", "result"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_rate_limited_total",
		Help: "Requests refused by the rate limiter, by limit class (auth, write, read)."}, []string{"class"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_requests_refused_total",
		Help: "Requests refused by the middleware stack, by reason."}, []string{"reason"})
	m.objects = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_objects_changed_total",
		Help: "Committed writes by object type and action (create, update, delete)."}, []string{"type", "action"})
	m.docsIndexed = prometheus.NewCounter(prometheus.CounterOpts{Name: "tienda_documents_indexed_total", Help: "Documents (re)indexed."})
	m.chat = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_chat_requests_total",
		Help: "Chat requests by outcome (ok, error, canceled)."}, []string{"outcome"})
	m.llmLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tienda_llm_request_duration_seconds",
		Help: "LLM call latency by operation (chat, embed).", Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 20, 40, 60}}, []string{"op"})
	m.llmErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_llm_errors_total",
		Help: "Failed LLM calls by operation."}, []string{"op"})
	m.llmTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_llm_tokens_total",
		Help: "LLM tokens used by kind (prompt, completion)."}, []string{"kind"})
	m.graphqlOps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_graphql_operations_total",
		Help: "GraphQL operations by operation name (the first 100 distinct names, then \"other\"), type and outcome (ok, error)."},
		[]string{"operation", "type", "outcome"})
	m.graphqlNames = map[string]bool{}
	m.redisFalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tienda_redis_fallbacks_total",
		Help: "Calls served without Redis while it was unavailable, by component (storage, counter, rate_limiter, cache)."}, []string{"component"})
	for _, c := range []prometheus.Collector{m.duration, m.inFlight, m.cache, m.rateLimited, m.refusals, m.objects,
		m.docsIndexed, m.chat, m.llmLatency, m.llmErrors, m.llmTokens, m.graphqlOps, m.redisFalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	if db != nil {
		f(collectors.NewDBStatsCollector(db, "tienda"))
	}
	return m
}

// Registry is the registry the metrics live in (to add more collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObjectChanged counts a committed write ("product", "create").
func (m *Metrics) ObjectChanged(objectType, action string) {
	if m != nil {
		m.objects.WithLabelValues(objectType, action).Inc()
	}
}

// DocumentIndexed counts a document (re)indexed for retrieval.
func (m *Metrics) DocumentIndexed() {
	if m != nil {
		m.docsIndexed.Inc()
	}
}

// ChatRequest counts a chat request by outcome: ok, error or canceled.
func (m *Metrics) ChatRequest(outcome string) {
	if m != nil {
		m.chat.WithLabelValues(outcome).Inc()
	}
}

// LLMCall records one provider call: its latency and whether it failed.
func (m *Metrics) LLMCall(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.llmLatency.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.llmErrors.WithLabelValues(op).Inc()
	}
}

// TokensUsed adds n tokens of a kind (prompt or completion).
func (m *Metrics) TokensUsed(kind string, n int) {
	if m != nil && n > 0 {
		m.llmTokens.WithLabelValues(kind).Add(float64(n))
	}
}

// MaxGraphQLNames bounds the operation label of the GraphQL counter: the
// names are the clients' choice, so past this many distinct ones the rest
// count as "other".
const MaxGraphQLNames = 100

// GraphQLOperation counts one GraphQL operation by its name ("" counts as
// "anonymous"), its type (query, mutation) and outcome (ok, error).
func (m *Metrics) GraphQLOperation(name, opType, outcome string) {
	if m == nil {
		return
	}
	if name == "" {
		name = "anonymous"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	m.graphqlMu.Lock()
	if !m.graphqlNames[name] {
		if len(m.graphqlNames) >= MaxGraphQLNames {
			name = "other"
		} else {
			m.graphqlNames[strings.Clone(name)] = true
		}
	}
	m.graphqlMu.Unlock()
	m.graphqlOps.WithLabelValues(name, opType, outcome).Inc()
}

// WatchRedis exports tienda_redis_up (1 while Redis is in use, 0 while its
// circuit breaker is open and the fallbacks serve), read from up at scrape
// time. Only a server with REDIS_URL calls it, so the gauge (and its
// alert) exists only where Redis is configured.
func (m *Metrics) WatchRedis(up func() bool) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tienda_redis_up", Help: "1 while Redis is in use, 0 while it is unavailable and the database and memory serve instead (see /ready).",
	}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}

// RedisFallback counts a call served without Redis, by component.
func (m *Metrics) RedisFallback(component string) {
	if m != nil {
		m.redisFalls.WithLabelValues(component).Inc()
	}
}

func (m *Metrics) CacheResult(resource string, hit bool) {
	if m == nil {
		return
	}
	r := "miss"
	if hit {
		r = "hit"
	}
	m.cache.WithLabelValues(resource, r).Inc()
}

func (m *Metrics) Limited(class string) {
	if m != nil {
		m.rateLimited.WithLabelValues(class).Inc()
	}
}

func (m *Metrics) Refused(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

// routeLabel is the route template of a served request ("unmatched" when
// no route matched), so that label values stay few.
func routeLabel(c *fiber.Ctx) string {
	route := c.Route().Path
	if route == "/" && c.Path() != "/" {
		return "unmatched"
	}
	return route
}

// Middleware is the outermost layer: in-flight gauge and the latency
// histogram. It runs outside the logger, which resolves errors to a
// status, so the status recorded is the one sent.
func (m *Metrics) Middleware(c *fiber.Ctx) error {
	m.inFlight.Inc()
	start := time.Now()
	err := c.Next()
	m.inFlight.Dec()
	m.duration.WithLabelValues(strings.Clone(c.Method()), strings.Clone(routeLabel(c)), strconv.Itoa(c.Response().StatusCode())).Observe(time.Since(start).Seconds())
	return err
}

// Endpoint serves /metrics on the public port to a bearer of token;
// without a token, or when the metrics have an internal address of their
// own (internal true), it does not exist there.
func (m *Metrics) Endpoint(token string, internal bool) fiber.Handler {
	h := adaptor.HTTPHandler(m.Handler())
	want := []byte("Bearer " + token)
	return func(c *fiber.Ctx) error {
		if token == "" || internal {
			return web.NotFound("Page")
		}
		got := c.Request().Header.Peek(fiber.HeaderAuthorization)
		if subtle.ConstantTimeCompare(got, want) != 1 {
			m.Refused("metrics_token")
			return web.Unauthorized("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.")
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return h(c)
	}
}

// Server serves /metrics alone on addr (METRICS_ADDR, an internal port).
func (m *Metrics) Server(addr string) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}
