package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localcluster"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/manifests"
)

// LocalVolumes is how many volumes the local provider makes for labs: kwok's nodes have no
// provisioner, and released volumes are not reused.
const LocalVolumes = 50

func init() {
	register(Provider{
		Name: ProviderLocal, Containers: false, HostController: true,
		Help: "Docker-free: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok as local processes, kind-config.yaml's workers faked by kwok, the controller on the host; no containers, so no Jupyter, Argo CD, skaffold or Delve",
		up:   upLocal,
	})
}

// localStack is the local provider's Cluster.
type localStack struct {
	c       *localcluster.Cluster
	client  client.WithWatch
	ctrl    *localproc.Process
	ctrlLog *os.File
	metrics string // the controller's metrics address
	log     logr.Logger
}

func upLocal(ctx context.Context, o Options) (Cluster, error) {
	start := time.Now()
	c, err := localcluster.Start(ctx, localcluster.WithLogger(o.Log))
	if err != nil {
		return nil, err
	}
	s := &localStack{c: c, log: o.Log}
	if s.client, err = NewClient(c.Config); err != nil {
		return s, err
	}
	nodes, err := fakenodes.LoadFile(filepath.Join(o.Root, "kind-config.yaml"), ClusterName)
	if err != nil {
		return s, err
	}
	if err := fakenodes.Create(ctx, s.client, nodes.Workers...); err != nil {
		return s, err
	}
	if err := fakenodes.WaitReady(ctx, s.client, Waits.Timeout("wait-nodes-ready"), nodes.Workers...); err != nil {
		return s, err
	}
	if err := fakenodes.CreateVolumes(ctx, s.client, "e2e", LocalVolumes, true); err != nil {
		return s, err
	}
	o.step("local cluster up, kind's workers faked by kwok", start)

	start = time.Now()
	if _, err := apply.Apply(ctx, s.client, manifests.CRD()); err != nil {
		return s, err
	}
	bin := filepath.Join(o.Root, "bin", "labkit-controller")
	if err := localproc.Build(ctx, o.Root, "./cmd/labkit-controller", bin); err != nil {
		return s, err
	}
	dir := o.Artifacts
	if dir == "" {
		dir = filepath.Join(o.Root, "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	if s.ctrlLog, err = os.Create(filepath.Join(dir, "labkit-controller.log")); err != nil {
		return s, err
	}
	if s.metrics, err = localproc.FreeAddress(); err != nil {
		return s, err
	}
	// The controller's own defaults (those users get), but its metrics on a free port of the loopback
	// and no probes: nothing on this machine would read them.
	args := append([]string{"--metrics-bind-address=" + s.metrics, "--health-probe-bind-address=0"}, o.ControllerArgs...)
	s.ctrl, err = localproc.Start(ctx, bin, args, []string{"KUBECONFIG=" + c.Kubeconfig}, s.ctrlLog)
	if err != nil {
		return s, err
	}
	metrics := metricsAt(s.metrics)
	err = Waits.Until(ctx, "wait-controller-started", func(ctx context.Context) (string, error) {
		select {
		case <-s.ctrl.Done():
			return "", fmt.Errorf("labkit-controller %v exited; its log is %s", args, s.ctrlLog.Name())
		default:
		}
		body, err := metrics(ctx)
		if err != nil {
			return fmt.Sprintf("its metrics do not answer yet: %v", err), nil
		}
		return "", body.Close()
	})
	if err != nil {
		return s, err
	}
	o.step("controller built and started on the host", start)
	return s, nil
}

func (s *localStack) Kubeconfig() string           { return s.c.Kubeconfig }
func (s *localStack) KubeContext() string          { return "" }
func (s *localStack) RESTConfig() *rest.Config     { return s.c.Config }
func (s *localStack) Client() client.WithWatch     { return s.client }
func (s *localStack) ArgoCD() bool                 { return false }
func (s *localStack) Skaffold() *skaffold.Skaffold { return nil }

// AddFakeNodes creates the nodes: kwok runs already, a process of the local control plane.
func (s *localStack) AddFakeNodes(ctx context.Context, pools ...fakenodes.Pool) error {
	c, err := fakenodes.BulkClient(s.c.Config)
	if err != nil {
		return err
	}
	if err := fakenodes.Create(ctx, c, pools...); err != nil {
		return err
	}
	return fakenodes.WaitReady(ctx, c, Waits.Timeout("wait-nodes-ready"), pools...)
}

// Controller is the controller's process on this machine.
func (s *localStack) Controller(context.Context) (*Controller, error) {
	return &Controller{Metrics: metricsAt(s.metrics), Process: s.ctrl,
		Where: fmt.Sprintf("pid %d on this machine (log %s)", s.ctrl.Pid(), s.ctrlLog.Name())}, nil
}

// HostAddress is the loopback address: the control plane runs on this machine.
func (s *localStack) HostAddress(context.Context) (string, error) { return "127.0.0.1", nil }

// Down stops the controller and the control plane whatever keep says: local processes cannot
// outlive the run. Kept, the controller's log is named.
func (s *localStack) Down(ctx context.Context, keep bool) error {
	var errs []error
	if s.ctrl != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		errs = append(errs, s.ctrl.Stop(ctx))
	}
	if s.ctrlLog != nil {
		errs = append(errs, s.ctrlLog.Close())
		if keep {
			s.log.Info("The local cluster's processes are stopped; the controller's log is kept", "log", s.ctrlLog.Name())
		}
	}
	return errors.Join(append(errs, s.c.Stop())...)
}
