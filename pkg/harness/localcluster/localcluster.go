package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
	"github.com/labkit-dev/labkit/pkg/harness/localproc"
)

const kwokConfig = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 16
  nodeLeaseParallelism: 8
`

// Cluster is etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, running as
// local processes. Its nodes are fake: kwok makes them and their pods look alive.
type Cluster struct {
	// Config is a client configuration with cluster-admin rights; Kubeconfig the same as a file.
	Config     *rest.Config
	Kubeconfig string

	env   *envtest.Environment
	dir   string
	procs []*localproc.Process
	log   logr.Logger
}

// Option configures Start.
type Option interface{ apply(*options) }

type options struct {
	assets string
	log    logr.Logger
	out    io.Writer
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithAssets is the folder holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok; default $KUBEBUILDER_ASSETS.
func WithAssets(dir string) Option { return optionFunc(func(o *options) { o.assets = dir }) }

// WithLogger sets the logger.
func WithLogger(l logr.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

// WithOutput receives what the controller manager, the scheduler and kwok print; default nowhere.
func WithOutput(w io.Writer) Option { return optionFunc(func(o *options) { o.out = w }) }

// Start starts the control plane and kwok, and returns once they run. Stop it, also on failure of the
// caller's tests: it leaves no process behind.
func Start(ctx context.Context, opts ...Option) (c *Cluster, err error) {
	o := &options{assets: os.Getenv("KUBEBUILDER_ASSETS"), log: logr.Discard(), out: io.Discard}
	for _, opt := range opts {
		opt.apply(o)
	}
	if o.assets == "" {
		return nil, errors.New("no binaries for the local cluster: set KUBEBUILDER_ASSETS or WithAssets (make local-cluster-tools builds them into bin/k8s/<version>)")
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(o.assets, bin)); err != nil {
			return nil, fmt.Errorf("local cluster needs %s in %s: %w (make local-cluster-tools builds it)", bin, o.assets, err)
		}
	}
	stages, err := fakenodes.StageConfig(ctx)
	if err != nil {
		return nil, err
	}
	// kwok plays each pod stage on a few workers by default: more keep up with a thousand labs.
	stages = append([]byte(kwokConfig), stages...)
	c = &Cluster{env: &envtest.Environment{BinaryAssetsDirectory: o.assets}, log: o.log}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.dir, err = os.MkdirTemp("", "localcluster-"); err != nil {
		return c, err
	}
	// Room for thousands of Services (envtest's default range has 254 addresses), as kind has.
	c.env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	if c.Config, err = c.env.Start(); err != nil {
		return c, fmt.Errorf("start etcd and kube-apiserver: %w", err)
	}
	admin, err := c.env.AddUser(envtest.User{Name: "local-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return c, fmt.Errorf("make an admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	stagesFile := filepath.Join(c.dir, "kwok-stages.yaml")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return c, err
	}
	if err := os.WriteFile(stagesFile, stages, 0o600); err != nil {
		return c, err
	}
	for _, argv := range [][]string{
		{"kube-controller-manager", "--kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--secure-port=0", // nothing scrapes it here
			// No signing key is shared with envtest's API server: leave token minting to it.
			"--controllers=*,-serviceaccount-token,-bootstrap-signer-controller,-token-cleaner-controller",
			// Labs at scale: let the Deployment and ReplicaSet controllers keep up.
			"--kube-api-qps=500", "--kube-api-burst=1000",
			"--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20"},
		{"kube-scheduler", "--kubeconfig=" + c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--kube-api-qps=500", "--kube-api-burst=1000"},
		append([]string{"kwok", "--kubeconfig=" + c.Kubeconfig, "--config=" + stagesFile,
			"--server-address=127.0.0.1:0"}, fakenodes.KwokArgs...),
	} {
		p, err := localproc.Start(ctx, filepath.Join(o.assets, argv[0]), argv[1:], nil, o.out)
		if err != nil {
			return c, fmt.Errorf("start %s: %w", argv[0], err)
		}
		c.procs = append(c.procs, p)
		c.log.Info("Started", "component", argv[0], "pid", p.Pid())
	}
	c.log.Info("Local cluster running", "kubeconfig", c.Kubeconfig)
	return c, nil
}

// Stop stops kwok, the scheduler, the controller manager, kube-apiserver and etcd, and waits until
// they are gone.
func (c *Cluster) Stop() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.procs = nil
	if c.Config != nil {
		errs = append(errs, c.env.Stop())
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
