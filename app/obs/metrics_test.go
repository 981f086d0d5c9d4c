package obs

import (
	"fmt"
	"testing"
)

// graphqlSeries reads the GraphQL counter from the registry: its number of
// series and the value of the one labelled operation=name, type=query.
func graphqlSeries(t *testing.T, m *Metrics, name string) (int, float64) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n, v := 0, 0.0
	for _, f := range fams {
		if f.GetName() != "tienda_graphql_operations_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			n++
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == name && labels["type"] == "query" {
				v = s.GetCounter().GetValue()
			}
		}
	}
	return n, v
}

// TestGraphQLOperationNamesAreBounded: operation names are the clients'
// choice, so the counter's label values stop growing at MaxGraphQLNames.
func TestGraphQLOperationNamesAreBounded(t *testing.T) {
	m := NewMetrics(nil)
	for i := range MaxGraphQLNames + 50 {
		m.GraphQLOperation(fmt.Sprintf("Op%d", i), "query", "ok")
	}
	if n, other := graphqlSeries(t, m, "other"); n != MaxGraphQLNames+1 || other != 50 {
		t.Fatalf("%d series (want %d names + other), other = %v (want 50)", n, MaxGraphQLNames, other)
	}
	m.GraphQLOperation("Op1", "query", "ok") // a known name keeps its own series
	if _, v := graphqlSeries(t, m, "Op1"); v != 2 {
		t.Fatalf("Op1 = %v, want 2", v)
	}
	var off *Metrics
	off.GraphQLOperation("x", "query", "ok") // nil-safe
}
