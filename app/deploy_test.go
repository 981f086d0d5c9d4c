package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"tienda/app/config"
	"time"
)

// promtool comes with Debian's prometheus package.
func promtool(t *testing.T) string {
	t.Helper()
	return findTool(t, "promtool", "apt-get install -y prometheus", "promtool")
}

func TestPrometheusRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "../deploy/prometheus/alerts.yml"},
		{"test", "rules", "../deploy/prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

var metricName = regexp.MustCompile(`\b(tienda_[a-z_]+|go_sql_[a-z_]+|go_goroutines|process_resident_memory_bytes)\b`)

// TestDashboardAndAlertsUseRealMetrics: every metric the dashboard and the
// alerts query is one the server exports.
func TestDashboardAndAlertsUseRealMetrics(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *config.Config) { c.MetricsToken = "dashboard-token-0123456789" })
	m := ts.srv.Metrics()
	m.ObjectChanged("product", "create")
	m.DocumentIndexed()
	m.ChatRequest("ok")
	m.LLMCall("chat", time.Second, fmt.Errorf("down"))
	m.TokensUsed("prompt", 1)
	m.CacheResult("product", true)
	m.Limited("read")
	m.Refused("payload_too_large")
	m.RedisFallback("cache")
	m.WatchRedis(func() bool { return true }) // a server with REDIS_URL exports it
	ts.do("GET", "/health", nil)
	exported := string(ts.do("GET", "/metrics", nil, "Authorization", "Bearer dashboard-token-0123456789").Body)

	dash, err := os.ReadFile("../deploy/grafana/tienda.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if len(d.Panels) < 10 {
		t.Fatalf("dashboard has %d panels", len(d.Panels))
	}
	alerts, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	exprs = append(exprs, string(alerts))
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			seen[name] = true
		}
	}
	var missing []string
	for name := range seen {
		if strings.HasPrefix(name, "tienda:") || strings.HasSuffix(name, "_") {
			continue
		}
		if !strings.Contains(exported, "\n"+name) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("queried but not exported: %v", missing)
	}
}
