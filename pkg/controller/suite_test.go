package controller

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

var (
	env *testenv.Env
	// mgrClient is the manager's (cached, write-counting) client.
	mgrClient client.Client
	// writes counts the controller's write requests (create, update, patch, apply, delete) per namespace.
	writes sync.Map // namespace -> *atomic.Int64
	// requests counts every API request of the controller (its cache's, client's, API reader's and
	// event recorder's) by namespace and HTTP method, as bench-scale counts them by method.
	requests sync.Map // requestKey -> *atomic.Int64
)

type requestKey struct{ namespace, method string }

// countingTransport counts the requests that go through it in requests; those that name no
// namespace (lists and watches of the cache) are not counted.
type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ns := namespaceOf(req.URL.Path); ns != "" {
		n, _ := requests.LoadOrStore(requestKey{ns, req.Method}, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	return t.next.RoundTrip(req)
}

// namespaceOf is the namespace of a request for namespaced objects, e.g. ns of
// /apis/apps/v1/namespaces/ns/deployments/ada; "" for any other request.
func namespaceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "namespaces" {
			return parts[i+1]
		}
	}
	return ""
}

// requestsIn are the controller's requests so far in ns, by HTTP method.
func requestsIn(ns string) map[string]int64 {
	out := map[string]int64{}
	requests.Range(func(k, v any) bool {
		if key := k.(requestKey); key.namespace == ns {
			out[key.method] = v.(*atomic.Int64).Load()
		}
		return true
	})
	return out
}

// jupyters are the fake Jupyter servers of the tests, by lab namespace: their activity endpoints stand
// in for the labs' servers, which envtest cannot run.
var jupyters sync.Map // namespace -> base URL

func jupyterOf(lab *labkitv1alpha1.JupyterLab) string {
	if u, ok := jupyters.Load(lab.Namespace); ok {
		return u.(string)
	}
	return "http://127.0.0.1:1" // nothing listens: the activity cannot be read
}

func countWrite(obj any) {
	o, ok := obj.(interface{ GetNamespace() string })
	if !ok {
		return
	}
	n, _ := writes.LoadOrStore(o.GetNamespace(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

func writesIn(ns string) int64 {
	n, ok := writes.Load(ns)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// TestMain starts a real API server and the controller against it, as the manager does in production
// but with a client that counts writes and a transport that counts every request.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt} })
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  env.Scheme,
		Cache:   CacheOptions(DefaultSettings),
		Metrics: metricsserver.Options{BindAddress: "0"},
		NewClient: func(cfg *rest.Config, opts client.Options) (client.Client, error) {
			c, err := client.NewWithWatch(cfg, opts)
			if err != nil {
				return nil, err
			}
			return interceptor.NewClient(c, countWrites()), nil
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "create manager:", err)
		return 1
	}
	mgrClient = mgr.GetClient()
	r := &JupyterLabReconciler{Client: mgrClient, Scheme: env.Scheme, Recorder: mgr.GetEventRecorder("labkit-controller"),
		APIReader: mgr.GetAPIReader(), Activity: JupyterActivity{BaseURL: jupyterOf}}
	if err := r.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, "set up controller:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		code = 1
	}
	return code
}

func countWrites() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			countWrite(obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			countWrite(obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			countWrite(obj)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			countWrite(obj)
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			countWrite(obj)
			return c.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			countWrite(obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			countWrite(obj)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
}
