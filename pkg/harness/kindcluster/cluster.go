package kindcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

const (
	// configHashKey is where Up records the config a cluster was made from, to reuse it only for the same one.
	configHashKey       = "config-sha256"
	configHashConfigMap = "kindcluster-config"
)

// ErrConfigChanged means a cluster of that name exists but was made from another config.
var ErrConfigChanged = errors.New("cluster exists with a different config")

// Cluster is a kind cluster.
type Cluster struct {
	Name string
	// Kubeconfig is the path of the cluster's kubeconfig file.
	Kubeconfig string
	// Created is true when Up made the cluster, false when it reused an existing one.
	Created bool

	provider *cluster.Provider
	log      logr.Logger
}

// Option configures Up.
type Option interface{ apply(*options) }

type options struct {
	configFile string
	nodeImage  string
	kubeconfig string
	retain     bool
	wait       time.Duration
	log        logr.Logger
	hostPorts  map[int32]int32 // containerPort -> hostPort
	// registryPort is the host port of the cluster's local registry; none when 0.
	registryPort int32
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithConfigFile is the kind config (a kind.x-k8s.io/v1alpha4 Cluster) to create the cluster from.
func WithConfigFile(path string) Option { return optionFunc(func(o *options) { o.configFile = path }) }

// WithNodeImage overrides the node image of the config.
func WithNodeImage(image string) Option { return optionFunc(func(o *options) { o.nodeImage = image }) }

// WithKubeconfig is where the cluster's kubeconfig is written; default
// $XDG_CACHE_HOME/kindcluster/<name>.kubeconfig, so the user's ~/.kube/config is left alone.
func WithKubeconfig(path string) Option { return optionFunc(func(o *options) { o.kubeconfig = path }) }

// WithHostPort changes the host port of the config's extraPortMappings for containerPort, so that two
// clusters made from one config can both run: e.g. a demo cluster next to the e2e one.
func WithHostPort(containerPort, hostPort int32) Option {
	return optionFunc(func(o *options) {
		if o.hostPorts == nil {
			o.hostPorts = map[int32]int32{}
		}
		o.hostPorts[containerPort] = hostPort
	})
}

// WithRetain keeps the node containers of a failed creation, for debugging.
func WithRetain(retain bool) Option { return optionFunc(func(o *options) { o.retain = retain }) }

// WithWaitForReady is how long creation waits for the control plane to be ready; default 3 minutes.
func WithWaitForReady(d time.Duration) Option { return optionFunc(func(o *options) { o.wait = d }) }

// WithLogger receives kind's progress lines.
func WithLogger(l logr.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

func newOptions(name string, opts []Option) (*options, error) {
	o := &options{wait: 3 * time.Minute, log: logr.Discard()}
	for _, opt := range opts {
		opt.apply(o)
	}
	if o.kubeconfig == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find a place for the kubeconfig of cluster %q: %w; use WithKubeconfig", name, err)
		}
		o.kubeconfig = filepath.Join(dir, "kindcluster", name+".kubeconfig")
	}
	return o, nil
}

func newProvider(log logr.Logger) *cluster.Provider {
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{log}))
}

// Up returns the cluster called name, creating it from the config file unless one made from the same
// config exists already. A cluster of that name made from another config is an error
// (ErrConfigChanged): delete it first. It knows nothing of GPUs: fakenodes.AdvertiseGPUs is the step
// that gives nodes labelled with a GPU count their fake GPUs.
func Up(ctx context.Context, name string, opts ...Option) (*Cluster, error) {
	o, err := newOptions(name, opts)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(o.configFile)
	if err != nil {
		return nil, fmt.Errorf("read kind config: %w", err)
	}
	if raw, err = setHostPorts(raw, o.hostPorts); err != nil {
		return nil, fmt.Errorf("kind config %s: %w", o.configFile, err)
	}
	sum := sha256.Sum256(append(raw, o.nodeImage...))
	hash := hex.EncodeToString(sum[:])
	c := &Cluster{Name: name, Kubeconfig: o.kubeconfig, provider: newProvider(o.log), log: o.log}

	exists, err := c.Exists()
	if err != nil {
		return nil, err
	}
	if exists {
		had, err := c.reusable(ctx, o.kubeconfig)
		if err != nil {
			// Its containers stopped (a Docker restart, say) or its API server is gone: start afresh.
			o.log.Info("Cluster exists but does not answer; deleting it to create it again", "name", name, "reason", err.Error())
			if err := c.Down(); err != nil {
				return nil, err
			}
			exists = false
		} else if had != hash {
			return nil, fmt.Errorf("%w: cluster %q was not made from %s as it is now; delete it (kind delete cluster --name %s) or use another name",
				ErrConfigChanged, name, o.configFile, name)
		} else {
			o.log.Info("Reusing cluster", "name", name)
		}
	}
	if !exists {
		if err := os.MkdirAll(filepath.Dir(o.kubeconfig), 0o700); err != nil {
			return nil, fmt.Errorf("create kubeconfig folder: %w", err)
		}
		createOpts := []cluster.CreateOption{
			cluster.CreateWithRawConfig(raw),
			cluster.CreateWithKubeconfigPath(o.kubeconfig),
			cluster.CreateWithRetain(o.retain),
			cluster.CreateWithWaitForReady(o.wait),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		}
		if o.nodeImage != "" {
			createOpts = append(createOpts, cluster.CreateWithNodeImage(o.nodeImage))
		}
		if err := c.provider.Create(name, createOpts...); err != nil {
			return nil, fmt.Errorf("create cluster %q from %s: %w", name, o.configFile, err)
		}
		c.Created = true
		if err := c.recordConfigHash(ctx, hash); err != nil {
			return c, err
		}
	}
	if o.registryPort != 0 {
		if err := c.ensureRegistry(ctx, o.registryPort); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Get returns an existing cluster without changing it.
func Get(name string, opts ...Option) (*Cluster, error) {
	o, err := newOptions(name, opts)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Kubeconfig: o.kubeconfig, provider: newProvider(o.log), log: o.log}
	if ok, err := c.Exists(); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("no kind cluster %q", name)
	}
	return c, c.provider.ExportKubeConfig(name, o.kubeconfig, false)
}

// Exists reports whether a kind cluster named name exists.
func Exists(name string) (bool, error) {
	return (&Cluster{Name: name, provider: newProvider(logr.Discard())}).Exists()
}

// Exists reports whether a kind cluster of this name exists.
func (c *Cluster) Exists() (bool, error) {
	names, err := c.provider.List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	return slices.Contains(names, c.Name), nil
}

// Down deletes the cluster, its local registry if it has one, and its kubeconfig file.
func (c *Cluster) Down() error {
	if err := c.provider.Delete(c.Name, c.Kubeconfig); err != nil {
		return fmt.Errorf("delete cluster %q: %w", c.Name, err)
	}
	if err := c.removeRegistry(context.Background()); err != nil {
		return err
	}
	if err := os.Remove(c.Kubeconfig); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ExportLogs writes kind's logs of every node (kubelet, containerd, pods) to dir.
func (c *Cluster) ExportLogs(dir string) error {
	if err := c.provider.CollectLogs(c.Name, dir); err != nil {
		return fmt.Errorf("export logs of cluster %q: %w", c.Name, err)
	}
	return nil
}

// RESTConfig is the cluster's client configuration.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig of cluster %q: %w", c.Name, err)
	}
	return cfg, nil
}

// KubeContext is the cluster's context name in its kubeconfig.
func (c *Cluster) KubeContext() string { return "kind-" + c.Name }

func (c *Cluster) client() (client.Client, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{})
}

// reusable writes the kubeconfig of an existing cluster and reads the config it was made from, within
// a minute: a cluster that cannot answer that is not worth reusing.
func (c *Cluster) reusable(ctx context.Context, kubeconfig string) (string, error) {
	if err := c.provider.ExportKubeConfig(c.Name, kubeconfig, false); err != nil {
		return "", fmt.Errorf("write kubeconfig of cluster %q: %w", c.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.configHash(ctx)
}

func (c *Cluster) configHash(ctx context.Context) (string, error) {
	cl, err := c.client()
	if err != nil {
		return "", err
	}
	cm := &corev1.ConfigMap{}
	err = cl.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: configHashConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the config of cluster %q: %w", c.Name, err)
	}
	return cm.Data[configHashKey], nil
}

func (c *Cluster) recordConfigHash(ctx context.Context, hash string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: configHashConfigMap},
		Data:       map[string]string{configHashKey: hash},
	}
	if err := cl.Create(ctx, cm); err != nil {
		return fmt.Errorf("record the config of cluster %q: %w", c.Name, err)
	}
	return nil
}

// GatewayAddress is the IPv4 gateway of the docker network kind puts its nodes on: the host's address
// as pods see it, where a server on the host (a Git server, say) listens to be reachable from the
// cluster. It holds for Docker on Linux; Docker Desktop reaches the host as host.docker.internal instead.
func GatewayAddress(ctx context.Context) (string, error) {
	out, err := exec.Command(ctx, "docker", "network", "inspect", "kind",
		"--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the kind network's gateway: %w", err)
	}
	for _, ip := range strings.Fields(string(out)) {
		if addr := net.ParseIP(ip); addr != nil && addr.To4() != nil {
			return ip, nil
		}
	}
	return "", fmt.Errorf("the kind network has no IPv4 gateway (got %q)", strings.TrimSpace(string(out)))
}
