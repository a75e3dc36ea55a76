package stack_test

import (
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/stack"
)

func TestMetricsSumAddsTheSeriesWithTheLabelsGiven(t *testing.T) {
	t.Parallel()
	m, err := stack.ParseMetrics(strings.NewReader(`# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="jupyterlab",result="success"} 20
controller_runtime_reconcile_total{controller="jupyterlab",result="error"} 2
controller_runtime_reconcile_total{controller="other",result="success"} 7
# TYPE workqueue_depth gauge
workqueue_depth{controller="jupyterlab",name="jupyterlab"} 0
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"controller_runtime_reconcile_total", []string{"controller", "jupyterlab", "result", "success"}, 20},
		{"controller_runtime_reconcile_total", []string{"controller", "jupyterlab"}, 22},
		{"controller_runtime_reconcile_total", nil, 29},
		{"workqueue_depth", []string{"name", "jupyterlab"}, 0},
		{"no_such_metric", nil, 0},
	} {
		if got := m.Sum(tc.name, tc.labels...); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if _, err := stack.ParseMetrics(strings.NewReader("up lots\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("ParseMetrics of a value that is no number = %v, want an error naming its line", err)
	}
}
