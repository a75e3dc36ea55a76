package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitcontroller "github.com/labkit-dev/labkit/pkg/controller"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// fakeJupyter answers the activity questions of every lab as a Jupyter server in use would: the
// benchmark's labs run on kwok nodes, where no Jupyter server runs. It counts the questions.
type fakeJupyter struct {
	srv   *httptest.Server
	asked atomic.Int64
}

func startFakeJupyter() *fakeJupyter {
	f := &fakeJupyter{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.asked.Add(1)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		switch r.URL.Path {
		case "/api/status":
			_ = json.NewEncoder(w).Encode(map[string]any{"last_activity": now, "kernels": 1, "connections": 1})
		case "/api/kernels":
			_ = json.NewEncoder(w).Encode([]map[string]any{{"id": "k", "execution_state": "idle", "last_activity": now}})
		default:
			http.NotFound(w, r)
		}
	}))
	return f
}

// cullingCost watches every lab's activity for window with checks every period, and reports what that
// costs the controller per lab and hour at the default period (labkitcontroller.DefaultCheckPeriod).
func cullingCost(ctx context.Context, r *report, c client.Client, ctrl *controller, jupyter *fakeJupyter, labs int, period, window time.Duration) error {
	settings := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {%s: 24h, %s: %s}\n",
		labkitcontroller.DefaultSettings.Name, labkitcontroller.DefaultSettings.Namespace,
		labkitcontroller.SettingCullingIdleTimeout, labkitcontroller.SettingCullingCheckPeriod, period)
	if _, err := apply.Apply(ctx, c, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+labkitcontroller.DefaultSettings.Namespace+"}\n---\n"+settings)); err != nil {
		return err
	}
	// The settings reconcile every lab; the window starts once every lab has been checked once.
	err := stack.Waits.Until(ctx, "wait-verdict", func(context.Context) (string, error) {
		if n := jupyter.asked.Load(); n < int64(2*labs) {
			return fmt.Sprintf("%d of %d labs' activity read", n/2, labs), nil
		}
		return "", nil
	})
	if err != nil {
		return err
	}
	before, err := ctrl.sample(ctx)
	if err != nil {
		return err
	}
	asked0 := jupyter.asked.Load()
	start := time.Now()
	// A window of the benchmark's own: the figures are over that time (not a wait for a condition).
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	took := time.Since(start)
	after, err := ctrl.sample(ctx)
	if err != nil {
		return err
	}
	checks := float64(jupyter.asked.Load()-asked0) / 2
	cpu := (after.usage.CPU - before.usage.CPU).Seconds()
	requests := after.requests.total() - before.requests.total()
	perHour := float64(time.Hour / labkitcontroller.DefaultCheckPeriod) // checks of one lab in an hour at the default period
	r.add(fmt.Sprintf("culling: %d labs watched, checks every %s for %s", labs, period, took.Round(time.Second)), "%.0f checks (%.2f per lab per period)",
		checks, checks/float64(labs)/(took.Seconds()/period.Seconds()))
	r.add("culling: controller CPU per check", "%.2f ms", 1000*cpu/checks)
	r.add("culling: API server requests per check", "%.3f", requests/checks)
	r.add(fmt.Sprintf("culling: per lab per hour at the default %s period", labkitcontroller.DefaultCheckPeriod), "%.0f Jupyter requests, %.2f API server requests, %.1f ms CPU",
		2*perHour, perHour*requests/checks, perHour*1000*cpu/checks)
	r.add("culling: controller RSS with every lab watched", "%.1f MiB", float64(after.usage.RSS)/(1<<20))
	return nil
}
