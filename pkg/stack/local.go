package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

var _ ControllerStarter = (*localStack)(nil)

// localStack is the local provider's Cluster.
type localStack struct {
	c         *localcluster.Cluster
	client    client.WithWatch
	bin       string // the controller's binary
	artifacts string // where the controllers' logs go
	first     *Controller
	log       logr.Logger

	mu    sync.Mutex
	ctrls []hostController // every controller started, the first one first
}

// hostController is a controller process the stack started, and its log.
type hostController struct {
	p   *localproc.Process
	log *os.File
}

// StartController starts a controller on this machine, the stack's build of it, with the controller's
// own defaults (those users get) and args, but its metrics on a free port of the loopback and no
// probes: nothing on this machine would read them. Its log is artifacts/labkit-controller.log for the
// stack's own (name empty), labkit-controller-<name>.log for more. It returns once its metrics answer;
// the stack stops it when it goes down, unless it was stopped or killed before.
func (s *localStack) StartController(ctx context.Context, name string, args ...string) (*Controller, error) {
	logName := "labkit-controller.log"
	if name != "" {
		logName = "labkit-controller-" + name + ".log"
	}
	log, err := os.Create(filepath.Join(s.artifacts, logName))
	if err != nil {
		return nil, err
	}
	addr, err := localproc.FreeAddress()
	if err != nil {
		return nil, errors.Join(err, log.Close())
	}
	args = append([]string{"--metrics-bind-address=" + addr, "--health-probe-bind-address=0"}, args...)
	p, err := localproc.Start(ctx, s.bin, args, []string{"KUBECONFIG=" + s.c.Kubeconfig}, log)
	if err != nil {
		return nil, errors.Join(err, log.Close())
	}
	s.mu.Lock()
	s.ctrls = append(s.ctrls, hostController{p: p, log: log})
	s.mu.Unlock()
	ctrl := &Controller{Metrics: metricsAt(addr), Process: p, Log: log.Name(),
		Where: fmt.Sprintf("pid %d on this machine (log %s)", p.Pid(), log.Name())}
	err = Waits.Until(ctx, "wait-controller-started", func(ctx context.Context) (string, error) {
		select {
		case <-p.Done():
			return "", fmt.Errorf("labkit-controller %v exited; its log is %s", args, log.Name())
		default:
		}
		body, err := ctrl.Metrics(ctx)
		if err != nil {
			return fmt.Sprintf("its metrics do not answer yet: %v", err), nil
		}
		return "", body.Close()
	})
	return ctrl, err
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
	s.bin = filepath.Join(o.Root, "bin", "labkit-controller")
	if err := localproc.Build(ctx, o.Root, "./cmd/labkit-controller", s.bin); err != nil {
		return s, err
	}
	s.artifacts = o.Artifacts
	if s.artifacts == "" {
		s.artifacts = filepath.Join(o.Root, "artifacts")
	}
	if err := os.MkdirAll(s.artifacts, 0o755); err != nil {
		return s, err
	}
	if s.first, err = s.StartController(ctx, "", o.ControllerArgs...); err != nil {
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

// Controller is the stack's own controller process on this machine.
func (s *localStack) Controller(context.Context) (*Controller, error) { return s.first, nil }

// HostAddress is the loopback address: the control plane runs on this machine.
func (s *localStack) HostAddress(context.Context) (string, error) { return "127.0.0.1", nil }

// Down stops the controllers and the control plane whatever keep says: local processes cannot
// outlive the run. Kept, the controllers' logs are named.
func (s *localStack) Down(ctx context.Context, keep bool) error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, hc := range s.ctrls {
		errs = append(errs, hc.p.Stop(ctx), hc.log.Close())
		if keep {
			s.log.Info("The local cluster's processes are stopped; the controller's log is kept", "log", hc.log.Name())
		}
	}
	return errors.Join(append(errs, s.c.Stop())...)
}
