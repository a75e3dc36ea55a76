package argocd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
)

// Defaults of the options, and the name of Install's wait in its errors.
const (
	DefaultNamespace             = "argocd"
	DefaultReconciliationTimeout = 5 * time.Second
	DefaultReadyTimeout          = 5 * time.Minute
	ReadyTimeoutName             = "wait-argocd-ready"
)

// Names in core-install.yaml and argocd-cm.
const (
	upstreamNamespace            = "argocd" // the namespace of the service accounts its bindings name
	applicationSetControllerName = "argocd-applicationset-controller"
	argocdConfigMapName          = "argocd-cm"
	paramsConfigMapName          = "argocd-cmd-params-cm"
	healthCustomizationKeyPrefix = "resource.customizations.health."
	reconciliationTimeoutKey     = "timeout.reconciliation"
	reconciliationJitterKey      = "timeout.reconciliation.jitter"
)

// SettingsAnnotation is on the pod template of every Argo CD workload Install applies: a digest of
// the settings its components read only when they start (settingsDigest). Installing again with
// other settings changes it, so the pods are replaced and read them; with the same, nothing rolls.
const SettingsAnnotation = "harness.labkit.dev/argocd-settings"

// pollInterval is how often a wait reads the objects it waits on.
const pollInterval = 250 * time.Millisecond

// Option configures Manifest, Install and Uninstall.
type Option interface{ apply(*options) }

type options struct {
	namespace      string
	version        string
	manifestFile   string
	manifestURL    string
	applicationSet bool
	healthChecks   map[string]string // argocd-cm key -> Lua script
	params         map[string]string // argocd-cmd-params-cm
	reconciliation time.Duration
	readyTimeout   time.Duration
	log            logr.Logger
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithNamespace installs Argo CD into ns instead of DefaultNamespace. Install creates it; Uninstall
// deletes it.
func WithNamespace(ns string) Option { return optionFunc(func(o *options) { o.namespace = ns }) }

// WithVersion installs another Argo CD release than DefaultVersion, such as "v3.5.2".
func WithVersion(v string) Option { return optionFunc(func(o *options) { o.version = v }) }

// WithManifestFile reads the manifest from a file instead of the Argo CD Go module.
func WithManifestFile(path string) Option {
	return optionFunc(func(o *options) { o.manifestFile, o.manifestURL = path, "" })
}

// WithManifestURL GETs the manifest from url instead of reading the Argo CD Go module.
func WithManifestURL(url string) Option {
	return optionFunc(func(o *options) { o.manifestURL, o.manifestFile = url, "" })
}

// WithApplicationSet runs the applicationset controller, which Install scales to zero otherwise: plain
// Applications do not need it.
func WithApplicationSet() Option { return optionFunc(func(o *options) { o.applicationSet = true }) }

// WithHealthCheck tells Argo CD how to assess the health of a kind, with a Lua script in Argo CD's
// format (see HealthCheckFromConditions). group is "" for the core group.
func WithHealthCheck(group, kind, luaScript string) Option {
	key := healthCustomizationKeyPrefix + kind
	if group != "" {
		key = healthCustomizationKeyPrefix + group + "_" + kind
	}
	return optionFunc(func(o *options) { o.healthChecks[key] = luaScript })
}

// WithReconciliationTimeout sets how often Argo CD compares each Application with Git unasked
// (timeout.reconciliation: 120s upstream, plus up to 60s of jitter, which Install turns off);
// DefaultReconciliationTimeout by default, so that tests see a new commit fast. Refresh makes it look
// at once.
func WithReconciliationTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.reconciliation = d })
}

// WithCommandParameters sets entries of argocd-cmd-params-cm, the components' command-line
// parameters, e.g. "controller.status.processors": "50" (Argo CD's high-availability guide sizes
// them for the number of Applications).
func WithCommandParameters(params map[string]string) Option {
	return optionFunc(func(o *options) {
		if o.params == nil {
			o.params = map[string]string{}
		}
		maps.Copy(o.params, params)
	})
}

// WithReadyTimeout bounds Install's wait for the components to be ready, and each of Uninstall's
// waits; DefaultReadyTimeout by default. The error names the wait ReadyTimeoutName.
func WithReadyTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.readyTimeout = d })
}

// LoggerOption is an Option and a WaitOption.
type LoggerOption struct{ log logr.Logger }

func (l LoggerOption) apply(o *options)         { o.log = l.log }
func (l LoggerOption) applyWait(o *waitOptions) { o.log = l.log }

// WithLogger logs progress at V(1); discarded by default.
func WithLogger(l logr.Logger) LoggerOption { return LoggerOption{log: l} }

func newOptions(opts []Option) *options {
	o := &options{
		namespace:      DefaultNamespace,
		version:        DefaultVersion,
		healthChecks:   map[string]string{},
		reconciliation: DefaultReconciliationTimeout,
		readyTimeout:   DefaultReadyTimeout,
		log:            logr.Discard(),
	}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

// Install applies Argo CD's core components (Manifest) into the namespace with server-side apply,
// changed as a test cluster wants them (see transform), then waits until its Deployments and
// StatefulSets have all their replicas updated and ready. Argo CD's cluster-scoped objects (CRDs,
// ClusterRole, ClusterRoleBinding) make it one install per cluster. Installing again updates it.
func Install(ctx context.Context, c client.Client, opts ...Option) error {
	o := newOptions(opts)
	stream, err := o.stream(ctx)
	if err != nil {
		return err
	}
	objs, err := apply.Apply(ctx, c, stream, o.applyOptions()...)
	if err != nil {
		return fmt.Errorf("install Argo CD into namespace %s: %w", o.namespace, err)
	}
	var workloads []*unstructured.Unstructured
	for _, obj := range objs {
		if k := obj.GetKind(); k == "Deployment" || k == "StatefulSet" {
			workloads = append(workloads, obj)
		}
	}
	return waitReady(ctx, c, workloads, o)
}

// Uninstall deletes the Applications in the namespace, waiting for Argo CD to process their
// finalizers, then everything Install applied, the namespace included, and waits until it is gone.
func Uninstall(ctx context.Context, c client.Client, opts ...Option) error {
	o := newOptions(opts)
	stream, err := o.stream(ctx)
	if err != nil {
		return err
	}
	if err := deleteApplications(ctx, c, o); err != nil {
		return err
	}
	if err := apply.Delete(ctx, c, stream, append(o.applyOptions(), apply.WithTimeout(o.readyTimeout))...); err != nil {
		return fmt.Errorf("uninstall Argo CD from namespace %s: %w", o.namespace, err)
	}
	return nil
}

// stream is the manifest after a Namespace document for the install namespace.
func (o *options) stream(ctx context.Context) ([]byte, error) {
	manifest, err := o.manifest(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": o.namespace}})
	if err != nil {
		return nil, err
	}
	return slices.Concat(ns, []byte("---\n"), manifest, []byte("\n---\n"), []byte(defaultProject)), nil
}

// defaultProject is the AppProject "default" that Applications name unless they say otherwise. The API
// server (argocd-server) makes it when it starts; core-install.yaml has no API server, so Install does.
const defaultProject = `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
spec:
  sourceRepos: ["*"]
  destinations: [{server: "*", namespace: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]
`

func (o *options) applyOptions() []apply.Option {
	return []apply.Option{apply.WithNamespace(o.namespace), apply.WithLogger(o.log), apply.WithTransform(o.transform)}
}

// transform changes the upstream objects for a test cluster:
//   - imagePullPolicy Always becomes IfNotPresent: the harness preloads the images into the nodes,
//     and Always would make every pod start contact the registry, slowly, or fail offline;
//   - the applicationset controller gets zero replicas, unless WithApplicationSet;
//   - argocd-cm gets a short reconciliation timeout without jitter (the application controller
//     and the repo server read it at start, so it must be there before they start) and the health
//     checks of WithHealthCheck;
//   - service accounts bound in upstream's namespace "argocd" are bound in the install namespace;
//   - every Deployment's and StatefulSet's pod template carries SettingsAnnotation.
//
// Plain HTTP Git repositories need nothing: argocd-cmd-params-cm only holds TLS settings of Argo CD's
// own servers, and repositories are reached as their URL says.
func (o *options) transform(u *unstructured.Unstructured) error {
	switch u.GetKind() {
	case "Deployment", "StatefulSet":
		annotations, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "annotations")
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[SettingsAnnotation] = o.settingsDigest()
		if err := unstructured.SetNestedStringMap(u.Object, annotations, "spec", "template", "metadata", "annotations"); err != nil {
			return err
		}
		for _, field := range []string{"initContainers", "containers"} {
			containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", field)
			for _, c := range containers {
				if m, ok := c.(map[string]any); ok && m["imagePullPolicy"] == string(corev1.PullAlways) {
					m["imagePullPolicy"] = string(corev1.PullIfNotPresent)
				}
			}
			if containers != nil {
				if err := unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", field); err != nil {
					return err
				}
			}
		}
		if u.GetKind() == "Deployment" && u.GetName() == applicationSetControllerName && !o.applicationSet {
			return unstructured.SetNestedField(u.Object, int64(0), "spec", "replicas")
		}
	case "ConfigMap":
		var set map[string]string
		switch u.GetName() {
		case argocdConfigMapName:
			set = o.reconciliationSettings()
			maps.Copy(set, o.healthChecks)
		case paramsConfigMapName:
			set = o.params
		}
		if len(set) == 0 {
			return nil
		}
		data, _, _ := unstructured.NestedStringMap(u.Object, "data")
		if data == nil {
			data = map[string]string{}
		}
		maps.Copy(data, set)
		return unstructured.SetNestedStringMap(u.Object, data, "data")
	case "ClusterRoleBinding", "RoleBinding":
		subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
		for _, s := range subjects {
			if m, ok := s.(map[string]any); ok && m["kind"] == "ServiceAccount" && m["namespace"] == upstreamNamespace {
				m["namespace"] = o.namespace
			}
		}
		if subjects != nil {
			return unstructured.SetNestedSlice(u.Object, subjects, "subjects")
		}
	}
	return nil
}

// waitReady waits until each Deployment and StatefulSet has observed its spec and has all its
// replicas updated and ready (available, for a Deployment).
func waitReady(ctx context.Context, c client.Client, workloads []*unstructured.Unstructured, o *options) error {
	o.log.V(1).Info("waiting for Argo CD to be ready", "namespace", o.namespace, "timeout", o.readyTimeout)
	// Poll until the first workload not ready yet, to spare the API server; describe them all once
	// time is out.
	unready := func(ctx context.Context, all bool) []string {
		var out []string
		for _, w := range workloads {
			if why := notReady(ctx, c, w); why != "" {
				out = append(out, w.GetKind()+" "+w.GetName()+": "+why)
				if !all {
					break
				}
			}
		}
		return out
	}
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.readyTimeout, true, func(ctx context.Context) (bool, error) {
		return len(unready(ctx, false)) == 0, nil
	})
	if err != nil {
		msg := fmt.Sprintf("%s: Argo CD in namespace %s not ready after %s: %s", ReadyTimeoutName, o.namespace, o.readyTimeout,
			strings.Join(unready(ctx, true), "; "))
		if pods := podProblems(ctx, c, o.namespace); pods != "" {
			msg += "; pods: " + pods
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	return nil
}

// notReady says why a Deployment or StatefulSet is not ready, or "" when it is.
func notReady(ctx context.Context, c client.Client, w *unstructured.Unstructured) string {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(w.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(w), live); err != nil {
		return err.Error()
	}
	var (
		replicas                     *int32
		generation                   = live.GetGeneration()
		observed, updated, available int64
		what                         = "available"
	)
	switch live.GetKind() {
	case "Deployment":
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &d); err != nil {
			return err.Error()
		}
		replicas, observed = d.Spec.Replicas, d.Status.ObservedGeneration
		updated, available = int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas)
	default:
		var s appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &s); err != nil {
			return err.Error()
		}
		replicas, observed = s.Spec.Replicas, s.Status.ObservedGeneration
		updated, available, what = int64(s.Status.UpdatedReplicas), int64(s.Status.ReadyReplicas), "ready"
	}
	want := int64(ptr.Deref(replicas, 1))
	switch {
	case observed < generation:
		return fmt.Sprintf("generation %d not observed by its controller yet", generation)
	case updated < want || available < want:
		return fmt.Sprintf("%d/%d replicas %s, %d/%d updated", available, want, what, updated, want)
	}
	return ""
}

// podProblems describes the pods of namespace that are not ready, for a person to read.
func podProblems(ctx context.Context, c client.Client, namespace string) string {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PodList"))
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return "cannot list them: " + err.Error()
	}
	var problems []string
	for _, item := range list.Items {
		var pod corev1.Pod
		if runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &pod) != nil {
			continue
		}
		for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			switch {
			case s.State.Waiting != nil && s.State.Waiting.Reason != "":
				problems = append(problems, fmt.Sprintf("%s container %s waiting: %s: %s", pod.Name, s.Name, s.State.Waiting.Reason, s.State.Waiting.Message))
			case s.State.Terminated != nil && s.State.Terminated.ExitCode != 0:
				problems = append(problems, fmt.Sprintf("%s container %s exited %d: %s", pod.Name, s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason))
			}
		}
		if len(pod.Status.ContainerStatuses) == 0 && pod.Status.Phase == corev1.PodPending {
			for _, cond := range pod.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					problems = append(problems, fmt.Sprintf("%s not scheduled: %s", pod.Name, cond.Message))
				}
			}
		}
	}
	return strings.Join(problems, "; ")
}

// deleteApplications deletes the Applications of the install namespace and waits until they are gone.
func deleteApplications(ctx context.Context, c client.Client, o *options) error {
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(argocd.GroupVersion.WithKind("Application"))
	err := c.DeleteAllOf(ctx, app, client.InNamespace(o.namespace))
	switch {
	case meta.IsNoMatchError(err): // no Application CRD: nothing to delete
		return nil
	case err != nil:
		return fmt.Errorf("delete the Applications in namespace %s: %w", o.namespace, err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, pollInterval, o.readyTimeout, true, func(ctx context.Context) (bool, error) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(argocd.GroupVersion.WithKind("ApplicationList"))
		if err := c.List(ctx, list, client.InNamespace(o.namespace)); err != nil {
			last = err.Error()
			return false, nil
		}
		var left []string
		for _, a := range list.Items {
			left = append(left, fmt.Sprintf("%s (finalizers %s)", a.GetName(), strings.Join(a.GetFinalizers(), ", ")))
		}
		last = strings.Join(left, "; ")
		return len(left) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%s: Applications in namespace %s not gone after %s (is the application controller running to process their finalizers?): %s: %w",
			ReadyTimeoutName, o.namespace, o.readyTimeout, last, err)
	}
	return nil
}

// reconciliationSettings are the argocd-cm entries of the reconciliation timeout, without jitter.
func (o *options) reconciliationSettings() map[string]string {
	return map[string]string{reconciliationTimeoutKey: o.reconciliation.String(), reconciliationJitterKey: "0s"}
}

// settingsDigest digests what Argo CD's components read from their ConfigMaps only when they start:
// the reconciliation timeout and jitter (environment variables from argocd-cm) and every command
// parameter (argocd-cmd-params-cm). Health checks are left out: Argo CD reads them as they change.
// On a reused cluster, a setting that changed would otherwise wait for a restart nobody makes.
func (o *options) settingsDigest() string {
	settings := o.reconciliationSettings()
	for k, v := range o.params {
		settings[paramsConfigMapName+"/"+k] = v
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(h, "%s=%s\n", k, settings[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
