package adminpanel

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tienda/app/admin"
	"tienda/models"
	"tienda/views"
)

// priceBands are the dashboard chart's bands, in cents: [lo, hi).
var priceBands = []struct {
	label  string
	lo, hi int64
}{
	{"Under 10", 0, 1000}, {"10 – 50", 1000, 5000}, {"50 – 200", 5000, 20000}, {"200 – 1,000", 20000, 100000}, {"1,000 and more", 100000, -1},
}

// Dashboard: GET /admin/.
func (p *Panel) Dashboard(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := adminUser(c)
	var vm views.DashboardView
	for _, m := range p.site.Models() {
		if !models.Permission(u, "view", m.ObjectType) {
			continue
		}
		n, est, err := m.Count(ctx)
		if err != nil {
			return err
		}
		count := admin.GroupDigits(n)
		if est {
			count = "≈ " + count
		}
		mc := views.ModelCount{Label: capitalizeFirst(m.Plural), URL: m.URL, Count: count}
		if models.Permission(u, "add", m.ObjectType) {
			mc.AddURL = m.URL + "/new"
		}
		vm.Models = append(vm.Models, mc)
	}
	if models.Permission(u, "view", "product") {
		// Low stock includes out of stock (first), with the list of all.
		var low []models.Product
		err := p.store.DB.WithContext(ctx).Where("stock < ?", models.LowStockThreshold).
			Order("stock ASC, id ASC").Limit(9).Find(&low).Error
		if err != nil {
			return fmt.Errorf("dashboard low stock: %w", err)
		}
		if len(low) > 8 {
			low, vm.LowStockMore = low[:8], true
		}
		vm.LowStockURL = adminBase + "/products?stock=short"
		for _, pr := range low {
			ls := views.LowStock{Name: pr.Name, URL: p.site.ObjectURL("product", pr.ID), Stock: strconv.FormatInt(pr.Stock, 10) + " left"}
			if pr.Stock == 0 {
				ls.Stock, ls.Out = "out of stock", true
			}
			vm.LowStock = append(vm.LowStock, ls)
		}
		chart, err := p.stockChart(c)
		if err != nil {
			return err
		}
		vm.Chart = chart
	}
	recent, err := p.store.RecentHistory(ctx, 40)
	if err != nil {
		return err
	}
	for _, e := range recent {
		if len(vm.Recent) == 10 {
			break
		}
		if !models.Permission(u, "view", e.ObjectType) {
			continue
		}
		url := ""
		if e.Action != "delete" {
			url = p.site.ObjectURL(e.ObjectType, e.ObjectID)
		}
		vm.Recent = append(vm.Recent, admin.HistoryEntryView(e, url, admin.SummaryValueMax))
	}
	if models.Permission(u, "view", "chat") {
		rows, err := p.chatUsage(c)
		if err != nil {
			return err
		}
		vm.ChatUsage = rows
	}
	vm.RecentURL = adminBase + "/recent-actions"
	vm.Page = p.page(c, "Dashboard")
	return p.render(c, fiber.StatusOK, views.DashboardPage(vm))
}

// stockChart sums price × stock per price band in the database (one
// grouped scan, exact at any size: models.StockValueByBand) and lays the
// bars out as SVG.
func (p *Panel) stockChart(c *fiber.Ctx) (views.BarChart, error) {
	bands := make([]models.PriceBand, len(priceBands))
	for i, b := range priceBands {
		bands[i] = models.PriceBand{Lo: b.lo, Hi: b.hi}
	}
	values, err := models.StockValueByBand(c.UserContext(), p.store.DB, bands)
	if err != nil {
		return views.BarChart{}, fmt.Errorf("dashboard chart: %w", err)
	}
	top := new(big.Int)
	for _, v := range values {
		if v.Cmp(top) > 0 {
			top = v
		}
	}
	const rowH, barMax = 36, 300
	chart := views.BarChart{Title: "Stock value by price band", Width: 640, Height: 8 + rowH*len(priceBands),
		Desc: "Horizontal bars on a logarithmic scale, so that one large band does not flatten the others: the value " +
			"of the stock (price × units, in " + p.currency + ") of the products in each price band, written beside each bar."}
	for i, b := range priceBands {
		w := logBar(values[i], top, barMax)
		y := 4 + i*rowH
		units := new(big.Int).Quo(values[i], big.NewInt(100))
		chart.Bars = append(chart.Bars, views.Bar{Label: b.label, Value: groupBig(units) + " " + p.currency, Y: y,
			Width: w, TextY: y + 17, ValueX: 130 + max(w, 2) + 8})
	}
	return chart, nil
}

// logBar is the width of v's bar when top gets barMax, on a logarithmic
// scale (log10(1+v)), so that every non-zero band stays visible (at least
// 6 units) whatever the outliers. The values are exact integers of any
// size; their logarithm is taken from their bit length and leading bits.
func logBar(v, top *big.Int, barMax int) int {
	if v.Sign() <= 0 || top.Sign() <= 0 {
		return 0
	}
	lv, lt := log10Big(v), log10Big(top)
	if lt <= 0 {
		return barMax
	}
	return max(6, int(math.Round(float64(barMax)*lv/lt)))
}

// log10Big is log10(1+n) for n ≥ 0, for integers beyond float64's range too.
func log10Big(n *big.Int) float64 {
	m := new(big.Int).Add(n, big.NewInt(1))
	shift := max(0, m.BitLen()-60)
	f, _ := new(big.Float).SetInt(new(big.Int).Rsh(m, uint(shift))).Float64()
	return math.Log10(f) + float64(shift)*math.Log10(2)
}

// groupBig writes n with thousands separators (1,234,567).
func groupBig(n *big.Int) string {
	s := n.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// chatUsage summarises today's chat usage per user and model.
func (p *Panel) chatUsage(c *fiber.Ctx) ([]views.ChatUsageRow, error) {
	ctx := c.UserContext()
	sums, err := models.ChatUsageSince(ctx, p.store.DB, time.Now())
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	var ids []int64
	for _, s := range sums {
		ids = append(ids, s.UserID)
	}
	if len(ids) > 0 {
		var users []models.User
		if err := p.store.DB.WithContext(ctx).Select("id", "username").Where("id IN ?", ids).Find(&users).Error; err != nil {
			return nil, fmt.Errorf("chat usage users: %w", err)
		}
		for _, u := range users {
			names[u.ID] = u.Username
		}
	}
	rows := make([]views.ChatUsageRow, 0, len(sums))
	for _, s := range sums {
		name := names[s.UserID]
		if name == "" {
			name = "#" + strconv.FormatInt(s.UserID, 10)
		}
		rows = append(rows, views.ChatUsageRow{User: name, Model: s.Model, Messages: admin.GroupDigits(s.Messages),
			Tokens: admin.GroupDigits(s.TotalTokens), AvgLatency: strconv.FormatInt(s.AvgLatency, 10) + " ms"})
	}
	return rows, nil
}
