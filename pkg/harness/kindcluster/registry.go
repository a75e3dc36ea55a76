package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// RegistryImage is the registry a cluster's local registry runs: the one kind's documentation uses.
const RegistryImage = "registry:2"

// The ConfigMap through which a cluster says where its local registry is (KEP-1755, "Standard for
// communicating a local registry"), which tools such as Tilt read.
const (
	registryHostingNamespace = metav1.NamespacePublic
	registryHostingConfigMap = "local-registry-hosting"
	registryHostingKey       = "localRegistryHosting.v1"
)

// WithLocalRegistry gives the cluster a registry of its own, as kind documents it ("Local Registry"):
// a RegistryImage container on the kind network, published on 127.0.0.1:hostPort. Images pushed to
// localhost:hostPort from this machine are pulled from it by the nodes, so that a rebuilt image goes
// only to the node whose pod runs it, and only the layers it lacks: `kind load` copies the whole image
// into every node. The nodes' containerd must read registry hosts from /etc/containerd/certs.d
// (kind-config.yaml's containerdConfigPatches).
func WithLocalRegistry(hostPort int32) Option {
	return optionFunc(func(o *options) { o.registryPort = hostPort })
}

// RegistryName is the container of the cluster's local registry.
func (c *Cluster) RegistryName() string { return c.Name + "-registry" }

// ensureRegistry starts the cluster's registry if it is not running, on the kind network, and points
// every node's containerd at it for localhost:port. It also records it in the cluster (KEP-1755).
// Each step is idempotent, so a reused cluster gets it too.
func (c *Cluster) ensureRegistry(ctx context.Context, port int32) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("local registry of cluster %q: host port %d: want 1 to 65535", c.Name, port)
	}
	name, host := c.RegistryName(), "localhost:"+strconv.Itoa(int(port))
	state, err := exec.Command(ctx, "docker", "container", "inspect", "--format",
		"{{.State.Running}} {{range $net, $_ := .NetworkSettings.Networks}}{{$net}} {{end}}", name).Output()
	switch {
	case err != nil: // no such container
		c.log.Info("Starting the cluster's local registry", "container", name, "at", host)
		run := exec.Command(ctx, "docker", "run", "--detach",
			"--restart=always", // back after a Docker restart, as the nodes are
			"--name", name,
			"--network", "kind", // the nodes reach it by its name
			"--publish", "127.0.0.1:"+strconv.Itoa(int(port))+":5000", // this machine pushes to localhost:port
			RegistryImage)
		if err := run.Run(); err != nil {
			return fmt.Errorf("start the local registry of cluster %q (%s on 127.0.0.1:%d; is the port taken?): %w",
				c.Name, RegistryImage, port, err)
		}
	default:
		fields := strings.Fields(string(state))
		if len(fields) == 0 || fields[0] != "true" {
			if err := exec.Command(ctx, "docker", "start", name).Run(); err != nil {
				return fmt.Errorf("start the local registry of cluster %q: %w", c.Name, err)
			}
		}
		if len(fields) > 0 && !slices.Contains(fields[1:], "kind") {
			if err := exec.Command(ctx, "docker", "network", "connect", "kind", name).Run(); err != nil {
				return fmt.Errorf("connect the local registry of cluster %q to the kind network: %w", c.Name, err)
			}
		}
	}
	nodeList, err := c.provider.ListNodes(c.Name)
	if err != nil {
		return fmt.Errorf("list nodes of cluster %q: %w", c.Name, err)
	}
	dir := "/etc/containerd/certs.d/" + host
	hosts := fmt.Sprintf("[host.%q]\n", "http://"+name+":5000")
	for _, n := range nodeList {
		if err := n.Command("mkdir", "-p", dir).Run(); err != nil {
			return fmt.Errorf("point node %s at the local registry: %w", n.String(), err)
		}
		// containerd reads the hosts files at every pull: no restart.
		if err := n.Command("cp", "/dev/stdin", dir+"/hosts.toml").SetStdin(strings.NewReader(hosts)).Run(); err != nil {
			return fmt.Errorf("point node %s at the local registry: %w", n.String(), err)
		}
	}
	return c.recordRegistry(ctx, host)
}

type registryHosting struct {
	Host                     string `json:"host"`
	HostFromContainerRuntime string `json:"hostFromContainerRuntime,omitempty"`
	Help                     string `json:"help,omitempty"`
}

func (c *Cluster) recordRegistry(ctx context.Context, host string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	v, err := yaml.Marshal(registryHosting{Host: host, HostFromContainerRuntime: c.RegistryName() + ":5000",
		Help: "https://kind.sigs.k8s.io/docs/user/local-registry/"})
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: registryHostingNamespace, Name: registryHostingConfigMap}}
	err = cl.Get(ctx, client.ObjectKeyFromObject(cm), cm)
	switch {
	case apierrors.IsNotFound(err):
		cm.Data = map[string]string{registryHostingKey: string(v)}
		err = cl.Create(ctx, cm)
	case err == nil:
		cm.Data = map[string]string{registryHostingKey: string(v)}
		err = cl.Update(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("record the local registry of cluster %q: %w", c.Name, err)
	}
	return nil
}

// ErrNoRegistry means the cluster was made without a local registry (WithLocalRegistry).
var ErrNoRegistry = errors.New("cluster has no local registry")

// LocalRegistry is where this machine pushes images for the cluster's nodes to pull, e.g.
// localhost:5001, as the cluster records it (KEP-1755); ErrNoRegistry when it has none.
func (c *Cluster) LocalRegistry(ctx context.Context) (string, error) {
	cl, err := c.client()
	if err != nil {
		return "", err
	}
	cm := &corev1.ConfigMap{}
	err = cl.Get(ctx, client.ObjectKey{Namespace: registryHostingNamespace, Name: registryHostingConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("%w: %q (create it with a registry: labkit-harness cluster up --registry-port)", ErrNoRegistry, c.Name)
	}
	if err != nil {
		return "", fmt.Errorf("read the local registry of cluster %q: %w", c.Name, err)
	}
	var h registryHosting
	if err := yaml.Unmarshal([]byte(cm.Data[registryHostingKey]), &h); err != nil || h.Host == "" {
		return "", fmt.Errorf("cluster %q: ConfigMap %s/%s does not say where the registry is (%v)", c.Name,
			registryHostingNamespace, registryHostingConfigMap, err)
	}
	return h.Host, nil
}

// removeRegistry removes the cluster's registry container, if there is one.
func (c *Cluster) removeRegistry(ctx context.Context) error {
	if err := exec.Command(ctx, "docker", "container", "inspect", c.RegistryName()).Run(); err != nil {
		return nil // none
	}
	if err := exec.Command(ctx, "docker", "rm", "--force", c.RegistryName()).Run(); err != nil {
		return fmt.Errorf("remove the local registry of cluster %q: %w", c.Name, err)
	}
	return nil
}
