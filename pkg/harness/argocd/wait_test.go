package argocd_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	argocdapi "github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/argocd"
)

func newApplication(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "http://git.example.com/labs.git", "path": "labs"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "labs"},
		},
	}}
	u.SetGroupVersionKind(argocdapi.GroupVersion.WithKind("Application"))
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func createApplication(ctx context.Context, t *testing.T, ns, name string) {
	t.Helper()
	if err := env.Client.Create(ctx, newApplication(ns, name)); err != nil {
		t.Fatal(err)
	}
}

// setStatus writes status as Argo CD does. Argo CD's Application CRD has no status subresource:
// status is patched on the object itself.
func setStatus(ctx context.Context, ns, name string, status map[string]any) error {
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	return env.Client.Patch(ctx, newApplication(ns, name), client.RawPatch(types.MergePatchType, patch))
}

func TestWaitForApplication(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	installCRDs(ctx, t)
	ns, err := env.Namespace(ctx, "argocd-wait")
	if err != nil {
		t.Fatal(err)
	}
	syncedHealthy := map[string]any{
		"sync":   map[string]any{"status": "Synced", "revision": "abc123"},
		"health": map[string]any{"status": "Healthy"},
	}
	const short = 600 * time.Millisecond
	// The branch of these cases: def456, then abc123 (where Argo CD is), then fed987.
	includes := func(_ context.Context, commit, revision string) (bool, error) {
		order := map[string]int{"def456": 1, "abc123": 2, "fed987": 3}
		return order[commit] > 0 && order[commit] <= order[revision], nil
	}
	tests := []struct {
		name       string
		create     bool
		status     map[string]any // written before the wait starts
		statusLate map[string]any // written while it waits
		opts       []argocd.WaitOption
		wantErr    string // after "wait-test: application <ns>/<name> not ready after 600ms: "
	}{
		{
			name:   "synced and healthy at the revision",
			create: true, status: syncedHealthy,
			opts: []argocd.WaitOption{argocd.AtRevision("abc123")},
		},
		{
			name:   "synced and healthy while it waits",
			create: true, statusLate: syncedHealthy,
			opts: []argocd.WaitOption{argocd.AtRevision("abc123"), argocd.WaitTimeout("wait-test", 10*time.Second)},
		},
		{
			name:   "out of sync, progressing, with an operation and a condition",
			create: true,
			status: map[string]any{
				"sync":   map[string]any{"status": "OutOfSync", "revision": "abc123"},
				"health": map[string]any{"status": "Progressing", "message": "Waiting for rollout to finish"},
				"operationState": map[string]any{
					"phase": "Running", "message": "waiting for healthy state of apps/Deployment/lab",
					"operation": map[string]any{}, "startedAt": "2026-01-02T03:04:05Z",
				},
				"conditions": []any{map[string]any{"type": "ComparisonError", "message": "repository not accessible"}},
			},
			opts: []argocd.WaitOption{argocd.WaitTimeout("wait-test", short)},
			wantErr: "sync OutOfSync (want Synced), health Progressing (want Healthy): Waiting for rollout to finish; " +
				"operation Running: waiting for healthy state of apps/Deployment/lab; ComparisonError: repository not accessible",
		},
		{
			name:   "synced and healthy at another revision",
			create: true, status: syncedHealthy,
			opts:    []argocd.WaitOption{argocd.AtRevision("def456"), argocd.WaitTimeout("wait-test", short)},
			wantErr: "revision abc123 (want def456)",
		},
		{
			name:   "synced and healthy at a later revision that includes the one waited for",
			create: true, status: syncedHealthy,
			opts: []argocd.WaitOption{argocd.AtOrAfterRevision("def456", includes), argocd.WaitTimeout("wait-test", short)},
		},
		{
			name:   "synced and healthy at an earlier revision",
			create: true, status: syncedHealthy,
			opts:    []argocd.WaitOption{argocd.AtOrAfterRevision("fed987", includes), argocd.WaitTimeout("wait-test", short)},
			wantErr: "revision abc123 (want fed987)",
		},
		{
			name:    "no status yet",
			create:  true,
			opts:    []argocd.WaitOption{argocd.WaitTimeout("wait-test", short)},
			wantErr: "sync not reported (want Synced), health not reported (want Healthy)",
		},
		{
			name:    "no application",
			opts:    []argocd.WaitOption{argocd.WaitTimeout("wait-test", short)},
			wantErr: `applications.argoproj.io "no-application" not found`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := strings.ReplaceAll(tt.name, " ", "-")
			name = strings.ReplaceAll(name, ",", "")
			if tt.create {
				createApplication(ctx, t, ns, name)
			}
			if tt.status != nil {
				if err := setStatus(ctx, ns, name, tt.status); err != nil {
					t.Fatal(err)
				}
			}
			if tt.statusLate != nil {
				go func() {
					if err := setStatus(ctx, ns, name, tt.statusLate); err != nil {
						t.Error(err)
					}
				}()
			}
			app, err := argocd.WaitForApplication(ctx, env.Client, ns, name, tt.opts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("WaitForApplication() = %v", err)
				}
				if app.Name != name || app.Status.Sync.Revision != "abc123" || app.Status.Health.Status != "Healthy" {
					t.Errorf("WaitForApplication() = %s %+v, want %s synced and healthy at abc123", app.Name, app.Status, name)
				}
				return
			}
			want := "wait-test: application " + ns + "/" + name + " not ready after 600ms: " + tt.wantErr + ": " + context.DeadlineExceeded.Error()
			if err == nil || err.Error() != want {
				t.Fatalf("WaitForApplication() error =\n%v\nwant\n%s", err, want)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitForApplication() error does not wrap context.DeadlineExceeded")
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	installCRDs(ctx, t)
	ns, err := env.Namespace(ctx, "argocd-refresh")
	if err != nil {
		t.Fatal(err)
	}
	createApplication(ctx, t, ns, "lab")
	if err := argocd.Refresh(ctx, env.Client, ns, "lab"); err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	app := newApplication(ns, "lab")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
		t.Fatal(err)
	}
	if got := app.GetAnnotations()["argocd.argoproj.io/refresh"]; got != "normal" {
		t.Errorf("annotation argocd.argoproj.io/refresh = %q, want normal", got)
	}
	wantErr := "refresh application " + ns + "/missing: "
	if err := argocd.Refresh(ctx, env.Client, ns, "missing"); err == nil || !strings.HasPrefix(err.Error(), wantErr) {
		t.Errorf("Refresh() of a missing application = %v, want an error starting with %q", err, wantErr)
	}
}
