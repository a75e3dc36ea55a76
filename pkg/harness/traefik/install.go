package traefik

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
)

// pollInterval is how often a wait reads the objects it waits on: at most two reads a poll, within
// client-go's default rate limit of 5 requests a second.
const pollInterval = 500 * time.Millisecond

// diagnosticsTimeout bounds the reads that describe a failed wait, done even when ctx is done.
const diagnosticsTimeout = 10 * time.Second

// Install applies Manifest with server-side apply, then waits until the Deployment is rolled out (its
// generation observed, all replicas updated and ready, condition Available True) and the Service has a
// ready endpoint in its EndpointSlices: Traefik then answers on the NodePort. Installing again updates
// it. Traefik may take a couple of seconds more to route a new Ingress: wait on the route itself, or on
// the Ingress status with WithIngressStatusIP.
func Install(ctx context.Context, c client.Client, opts ...Option) error {
	o := newOptions(opts)
	stream, err := Manifest(opts...)
	if err != nil {
		return err
	}
	o.log.V(1).Info("installing Traefik", "namespace", o.namespace, "image", o.image, "ingressClass", o.ingressClass, "nodePort", o.nodePort)
	if _, err := apply.Apply(ctx, c, stream, o.applyOptions()...); err != nil {
		return fmt.Errorf("install Traefik into namespace %s: %w", o.namespace, err)
	}
	return waitReady(ctx, c, o)
}

// Uninstall deletes everything Install applied, the namespace and the IngressClass included, and waits
// until it is all gone. Ingresses of the class stay, unserved.
func Uninstall(ctx context.Context, c client.Client, opts ...Option) error {
	o := newOptions(opts)
	stream, err := Manifest(opts...)
	if err != nil {
		return err
	}
	o.log.V(1).Info("uninstalling Traefik", "namespace", o.namespace, "timeout", o.readyTimeout)
	err = apply.Delete(ctx, c, stream, append(o.applyOptions(), apply.WithTimeout(o.readyTimeout))...)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: uninstall Traefik from namespace %s: %w", GoneTimeoutName, o.namespace, err)
	case err != nil:
		return fmt.Errorf("uninstall Traefik from namespace %s: %w", o.namespace, err)
	}
	return nil
}

func (o *options) applyOptions() []apply.Option {
	return []apply.Option{apply.WithNamespace(o.namespace), apply.WithLogger(o.log)}
}

// waitReady polls until notReady has nothing to say. On timeout the error says what was still not
// ready, read again once the wait is over (a read cut short by the deadline says nothing), and how
// the pods are.
func waitReady(ctx context.Context, c client.Client, o *options) error {
	o.log.V(1).Info("waiting for Traefik to be ready", "namespace", o.namespace, "timeout", o.readyTimeout)
	last := ""
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.readyTimeout, true, func(ctx context.Context) (bool, error) {
		why := notReady(ctx, c, o, false)
		if why != last && why != "" {
			o.log.V(1).Info("Traefik not ready yet", "namespace", o.namespace, "state", why)
		}
		last = why
		return why == "", nil
	})
	if err == nil {
		o.log.V(1).Info("Traefik is ready", "namespace", o.namespace)
		return nil
	}
	// ctx may be done: read with a context of its own.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), diagnosticsTimeout)
	defer cancel()
	why := notReady(dctx, c, o, true)
	if why == "" {
		if ctx.Err() == nil { // ready right at the deadline
			return nil
		}
		why = "ready when read again; before: " + last
	}
	return fmt.Errorf("%s: Traefik in namespace %s not ready after %s: %s; pods: %s: %w",
		ReadyTimeoutName, o.namespace, o.readyTimeout, why, podsState(dctx, c, o), err)
}

// notReady says why Traefik does not serve yet, or "" when it does. Unless all, it reads the
// Service's EndpointSlices only once the Deployment is rolled out, to spare the API server.
func notReady(ctx context.Context, c client.Client, o *options, all bool) string {
	var why []string
	if s := deploymentState(ctx, c, o); s != "" {
		why = append(why, fmt.Sprintf("Deployment %s/%s: %s", o.namespace, Name, s))
		if !all {
			return why[0]
		}
	}
	if s := endpointsState(ctx, c, o); s != "" {
		why = append(why, fmt.Sprintf("Service %s/%s: %s", o.namespace, Name, s))
	}
	return strings.Join(why, "; ")
}

// deploymentState says how the Deployment is not rolled out, or "" when it is.
func deploymentState(ctx context.Context, c client.Client, o *options) string {
	var d appsv1.Deployment
	if err := get(ctx, c, appsv1.SchemeGroupVersion.WithKind("Deployment"), client.ObjectKey{Namespace: o.namespace, Name: Name}, &d); err != nil {
		return err.Error()
	}
	var why []string
	if d.Status.ObservedGeneration < d.Generation {
		why = append(why, fmt.Sprintf("generation %d not observed by its controller yet (observed %d)", d.Generation, d.Status.ObservedGeneration))
	}
	want, s := ptr.Deref(d.Spec.Replicas, 1), d.Status
	if s.ReadyReplicas != want || s.UpdatedReplicas != want || s.Replicas != want {
		why = append(why, fmt.Sprintf("%d/%d replicas ready, %d/%d updated, %d in all", s.ReadyReplicas, want, s.UpdatedReplicas, want, s.Replicas))
	}
	var available *appsv1.DeploymentCondition
	for i := range s.Conditions {
		if s.Conditions[i].Type == appsv1.DeploymentAvailable {
			available = &s.Conditions[i]
		}
	}
	switch {
	case available == nil:
		why = append(why, "no condition Available")
	case available.Status != corev1.ConditionTrue:
		why = append(why, fmt.Sprintf("condition Available %s: %s: %s", available.Status, available.Reason, available.Message))
	}
	return strings.Join(why, ", ")
}

// endpointsState says why the Service has no ready endpoint, or "" when it has one.
func endpointsState(ctx context.Context, c client.Client, o *options) string {
	var eps discoveryv1.EndpointSliceList
	err := list(ctx, c, discoveryv1.SchemeGroupVersion.WithKind("EndpointSliceList"), &eps,
		client.InNamespace(o.namespace), client.MatchingLabels{discoveryv1.LabelServiceName: Name})
	if err != nil {
		return "list its EndpointSlices: " + err.Error()
	}
	if len(eps.Items) == 0 {
		return "no EndpointSlice"
	}
	endpoints := 0
	for _, s := range eps.Items {
		for _, e := range s.Endpoints {
			// A nil ready condition means ready (discovery/v1 EndpointConditions).
			if ptr.Deref(e.Conditions.Ready, true) {
				return ""
			}
			endpoints++
		}
	}
	return fmt.Sprintf("no ready endpoint (%d not ready in %d EndpointSlices)", endpoints, len(eps.Items))
}

// podsState describes Traefik's pods, for a person to read.
func podsState(ctx context.Context, c client.Client, o *options) string {
	var pods corev1.PodList
	err := list(ctx, c, corev1.SchemeGroupVersion.WithKind("PodList"), &pods, client.InNamespace(o.namespace), client.MatchingLabels(o.labels()))
	switch {
	case err != nil:
		return "cannot list them: " + err.Error()
	case len(pods.Items) == 0:
		return "none"
	}
	var out []string
	for _, pod := range pods.Items {
		var why []string
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
				why = append(why, "not scheduled: "+cond.Message)
			}
		}
		for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			switch {
			case s.State.Waiting != nil:
				why = append(why, fmt.Sprintf("container %s waiting: %s: %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message))
			case s.State.Terminated != nil:
				why = append(why, fmt.Sprintf("container %s terminated: exit code %d: %s", s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason))
			case !s.Ready:
				why = append(why, fmt.Sprintf("container %s running, not ready (%d restarts)", s.Name, s.RestartCount))
			}
		}
		out = append(out, fmt.Sprintf("%s %s", pod.Name, pod.Status.Phase)+prefixed(": ", strings.Join(why, ", ")))
	}
	return strings.Join(out, "; ")
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// get reads an object as unstructured, so that c's scheme need not know its kind, and converts it into.
func get(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey, into any) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Get(ctx, key, u); err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}

// list is get for a list.
func list(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, into any, opts ...client.ListOption) error {
	u := &unstructured.UnstructuredList{}
	u.SetGroupVersionKind(gvk)
	if err := c.List(ctx, u, opts...); err != nil {
		return err
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), into)
}
