package stack

import (
	"context"
	"fmt"
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are a controller's Prometheus metrics, by family name.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics reads a Prometheus text exposition, as a controller's /metrics serves it.
func ParseMetrics(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("controller metrics: %w", err)
	}
	return families, nil
}

// Scrape GETs and parses the controller's metrics.
func (c *Controller) Scrape(ctx context.Context) (Metrics, error) {
	body, err := c.Metrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics of the controller (%s): %w", c.Where, err)
	}
	defer body.Close()
	m, err := ParseMetrics(body)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, c.Where)
	}
	return m, nil
}

// Sum adds the values of the series of family name whose labels hold every name and value pair
// given, e.g. Sum("controller_runtime_reconcile_total", "controller", "jupyterlab"); 0 when none.
func (m Metrics) Sum(name string, labelPairs ...string) float64 {
	if len(labelPairs)%2 != 0 {
		panic("Metrics.Sum: label names and values must come in pairs")
	}
	var sum float64
series:
	for _, s := range m[name].GetMetric() {
		for i := 0; i < len(labelPairs); i += 2 {
			if LabelValue(s, labelPairs[i]) != labelPairs[i+1] {
				continue series
			}
		}
		sum += Value(s)
	}
	return sum
}

// Value is a series' value, whether it is a counter, a gauge or untyped.
func Value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// LabelValue is the value of a series' label name; "?" when it has none.
func LabelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return "?"
}
