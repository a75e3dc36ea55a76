package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Hook writes more evidence under dir, the directory given to Collect.
type Hook func(ctx context.Context, dir string) error

// Option configures Collect.
type Option interface{ apply(*options) error }

type options struct {
	namespaces []string
	kinds      []schema.GroupVersionKind
	podLogs    []podLogs
	hooks      []Hook
	log        logr.Logger
}

// podLogs selects pods whose logs to collect.
type podLogs struct{ namespace, selector string }

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// WithNamespaces collects the events, the objects of the kinds given with WithKinds and the logs of every
// pod of each namespace.
func WithNamespaces(namespaces ...string) Option {
	return optionFunc(func(o *options) error {
		if slices.Contains(namespaces, "") {
			return errors.New("evidence namespace is empty: name each namespace to collect")
		}
		o.namespaces = append(o.namespaces, namespaces...)
		return nil
	})
}

// WithKinds collects the objects of these namespaced kinds in each namespace, such as apps/v1 Deployment or
// argoproj.io/v1alpha1 Application. A kind the cluster does not serve is reported in Collect's error.
func WithKinds(kinds ...schema.GroupVersionKind) Option {
	return optionFunc(func(o *options) error {
		for _, k := range kinds {
			if k.Version == "" || k.Kind == "" {
				return fmt.Errorf("evidence kind %q needs a version and a kind", k)
			}
		}
		o.kinds = append(o.kinds, kinds...)
		return nil
	})
}

// WithPodLogs collects the logs of the pods that labelSelector selects in a namespace not given to
// WithNamespaces, such as "app.kubernetes.io/name=labkit-controller" in labkit-system. An empty selector
// selects every pod.
func WithPodLogs(namespace, labelSelector string) Option {
	return optionFunc(func(o *options) error {
		if namespace == "" {
			return fmt.Errorf("pod logs %q: the namespace is empty", labelSelector)
		}
		if _, err := labels.Parse(labelSelector); err != nil {
			return fmt.Errorf("pod logs in namespace %s: label selector %q: %w", namespace, labelSelector, err)
		}
		o.podLogs = append(o.podLogs, podLogs{namespace, labelSelector})
		return nil
	})
}

// WithHook runs hook after everything else, for evidence from elsewhere, such as the logs of the nodes.
func WithHook(hook Hook) Option {
	return optionFunc(func(o *options) error {
		o.hooks = append(o.hooks, hook)
		return nil
	})
}

// WithLogger sets the logger; the default discards everything. Each file written is logged at V(1).
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(o *options) error {
		o.log = l
		return nil
	})
}

var eventKind = corev1.SchemeGroupVersion.WithKind("Event")

// Collect writes evidence from the cluster cfg reaches under dir, one directory per namespace:
//
//	<namespace>/events.yaml                         core v1 events, oldest first
//	<namespace>/<kind>[.<group>].yaml               objects of each kind, such as deployment.apps.yaml
//	<namespace>/logs/<pod>_<container>.log          logs of every container, init containers too
//	<namespace>/logs/<pod>_<container>.previous.log logs of the container's previous run, if it restarted
//
// YAML files hold one document per object, without managedFields. Hooks run last, with dir.
// A failure with one item does not stop the others: the error joins every failure, each naming its item.
func Collect(ctx context.Context, cfg *rest.Config, dir string, opts ...Option) error {
	o := &options{log: logr.Discard()}
	for _, opt := range opts {
		if err := opt.apply(o); err != nil {
			return err
		}
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("evidence client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("evidence clientset: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	col := &collector{c: c, cs: cs, dir: dir, log: o.log}
	var errs []error
	for _, ns := range o.namespaces {
		errs = append(errs, col.objects(ctx, ns, eventKind, "events.yaml", byEventTime))
		for _, k := range o.kinds {
			errs = append(errs, col.objects(ctx, ns, k, kindFile(k), nil))
		}
		errs = append(errs, col.logs(ctx, ns, ""))
	}
	for _, p := range o.podLogs {
		if !slices.Contains(o.namespaces, p.namespace) { // otherwise collected with every pod of the namespace
			errs = append(errs, col.logs(ctx, p.namespace, p.selector))
		}
	}
	for _, hook := range o.hooks {
		if err := hook(ctx, dir); err != nil {
			errs = append(errs, fmt.Errorf("evidence hook: %w", err))
		}
	}
	return errors.Join(errs...)
}

type collector struct {
	c   client.Client
	cs  kubernetes.Interface
	dir string
	log logr.Logger
}

// kindFile names the file of a kind as kubectl names a resource: the kind, and its group unless it is core.
func kindFile(k schema.GroupVersionKind) string {
	if k.Group == "" {
		return strings.ToLower(k.Kind) + ".yaml"
	}
	return strings.ToLower(k.Kind) + "." + k.Group + ".yaml"
}

// objects writes every object of kind in ns to file, in the API server's order (by name) or sorted by cmp.
func (col *collector) objects(ctx context.Context, ns string, kind schema.GroupVersionKind, file string, cmp func(a, b unstructured.Unstructured) int) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(kind.GroupVersion().WithKind(kind.Kind + "List"))
	if err := col.c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list %s in namespace %s: %w", kind.Kind, ns, err)
	}
	if cmp != nil {
		slices.SortStableFunc(list.Items, cmp)
	}
	var b bytes.Buffer
	for _, item := range list.Items {
		unstructured.RemoveNestedField(item.Object, "metadata", "managedFields")
		y, err := yaml.Marshal(item.Object)
		if err != nil {
			return fmt.Errorf("render %s %s/%s: %w", kind.Kind, ns, item.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return col.write(filepath.Join(ns, file), &b)
}

// byEventTime orders events as kubectl does: by the last time the event was seen.
func byEventTime(a, b unstructured.Unstructured) int { return eventTime(a).Compare(eventTime(b)) }

func eventTime(e unstructured.Unstructured) time.Time {
	for _, field := range [][]string{{"series", "lastObservedTime"}, {"lastTimestamp"}, {"eventTime"}} {
		if s, _, _ := unstructured.NestedString(e.Object, field...); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// logs writes the logs of every container of the pods selector selects in ns.
func (col *collector) logs(ctx context.Context, ns, selector string) error {
	pods, err := col.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list pods in namespace %s for their logs: %w", ns, err)
	}
	var errs []error
	for _, pod := range pods.Items {
		restarted := map[string]bool{}
		for _, st := range slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses) {
			restarted[st.Name] = st.RestartCount > 0
		}
		for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
			errs = append(errs, col.containerLog(ctx, &pod, c.Name, false))
			if restarted[c.Name] {
				errs = append(errs, col.containerLog(ctx, &pod, c.Name, true))
			}
		}
	}
	return errors.Join(errs...)
}

// containerLog writes the log of one container, or of its previous run; it writes no file if the log cannot be read.
func (col *collector) containerLog(ctx context.Context, pod *corev1.Pod, container string, previous bool) error {
	what, file := "", pod.Name+"_"+container+".log"
	if previous {
		what, file = " (previous run)", pod.Name+"_"+container+".previous.log"
	}
	stream, err := col.cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container, Previous: previous}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs of container %s of pod %s/%s%s: %w", container, pod.Namespace, pod.Name, what, err)
	}
	defer func() { _ = stream.Close() }()
	return col.write(filepath.Join(pod.Namespace, "logs", file), stream)
}

// write writes a file under the evidence directory.
func (col *collector) write(rel string, content io.Reader) error {
	path := filepath.Join(col.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	_, err = io.Copy(f, content)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("write evidence %s: %w", path, err)
	}
	col.log.V(1).Info("wrote evidence", "file", path)
	return nil
}
