package apply

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// DefaultFieldOwner is the field manager objects are applied as.
const DefaultFieldOwner = "e2e-harness"

// DefaultTimeout bounds the wait for CustomResourceDefinitions to be established and the wait for
// deleted objects to be gone.
const DefaultTimeout = 2 * time.Minute

// pollInterval is how often a wait reads the objects it waits on.
const pollInterval = 100 * time.Millisecond

var (
	crdKind       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	namespaceKind = schema.GroupKind{Kind: "Namespace"}
)

// Option configures Apply and Delete.
type Option interface{ apply(*options) }

type options struct {
	namespace  string
	fieldOwner string
	transforms []func(*unstructured.Unstructured) error
	filters    []func(*unstructured.Unstructured) bool
	log        logr.Logger
	timeout    time.Duration
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithNamespace puts namespaced objects that have no metadata.namespace into ns. Objects that name
// their namespace keep it.
func WithNamespace(ns string) Option {
	return optionFunc(func(o *options) { o.namespace = ns })
}

// WithFieldOwner sets the field manager objects are applied as; DefaultFieldOwner by default.
func WithFieldOwner(owner string) Option {
	return optionFunc(func(o *options) { o.fieldOwner = owner })
}

// WithTransform edits each object before it is applied or deleted, after its namespace is set.
// Transforms run in the order they are given; an error stops Apply and names the object.
func WithTransform(fn func(*unstructured.Unstructured) error) Option {
	return optionFunc(func(o *options) { o.transforms = append(o.transforms, fn) })
}

// WithFilter keeps only the objects for which keep returns true; it sees objects as decoded,
// before any transform. Several filters must all keep an object.
func WithFilter(keep func(*unstructured.Unstructured) bool) Option {
	return optionFunc(func(o *options) { o.filters = append(o.filters, keep) })
}

// WithLogger logs each object applied or deleted at V(1), and the waits; discarded by default.
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(o *options) { o.log = l })
}

// WithTimeout bounds the wait for CustomResourceDefinitions to be established (Apply) and for the
// objects to be gone (Delete); DefaultTimeout by default.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

func newOptions(opts []Option) *options {
	o := &options{fieldOwner: DefaultFieldOwner, log: logr.Discard(), timeout: DefaultTimeout}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

// Apply applies each object of a multi-document YAML stream with server-side apply, forcing
// ownership of conflicting fields, and returns them as the server stored them. Objects are applied in
// stream order, except that Namespaces and then CustomResourceDefinitions go first, and the CRDs are
// waited on until they are Established and their kinds are known to c's RESTMapper, so that custom
// resources later in the stream can be applied. c's RESTMapper must therefore learn new kinds: the
// default one of controller-runtime's client (apiutil.NewDynamicRESTMapper) does.
// On error, the objects applied before the failing one stay applied.
func Apply(ctx context.Context, c client.Client, manifests []byte, opts ...Option) ([]*unstructured.Unstructured, error) {
	o := newOptions(opts)
	objs, err := decode(manifests, o.filters)
	if err != nil {
		return nil, err
	}
	objs = ordered(objs)
	applied := make([]*unstructured.Unstructured, 0, len(objs))
	var crds []*unstructured.Unstructured
	for _, obj := range objs {
		if gk := obj.GroupVersionKind().GroupKind(); gk != crdKind && gk != namespaceKind && len(crds) > 0 {
			if err := waitEstablished(ctx, c, crds, o); err != nil {
				return nil, err
			}
			crds = nil
		}
		if err := o.prepare(c, obj); err != nil {
			return nil, fmt.Errorf("apply %s: %w", id(obj), err)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(o.fieldOwner), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("apply %s: %w", id(obj), err)
		}
		o.log.V(1).Info("applied", "object", id(obj))
		applied = append(applied, obj)
		if obj.GroupVersionKind().GroupKind() == crdKind {
			crds = append(crds, obj)
		}
	}
	if len(crds) > 0 {
		if err := waitEstablished(ctx, c, crds, o); err != nil {
			return nil, err
		}
	}
	return applied, nil
}

// Delete deletes the objects of the stream in the reverse order of Apply, in the background
// propagation mode, skipping those already gone, and waits until all of them are gone. Give it the
// options given to Apply, so that it finds the same objects.
func Delete(ctx context.Context, c client.Client, manifests []byte, opts ...Option) error {
	o := newOptions(opts)
	objs, err := decode(manifests, o.filters)
	if err != nil {
		return err
	}
	objs = ordered(objs)
	var pending []*unstructured.Unstructured
	for i := len(objs) - 1; i >= 0; i-- {
		obj := objs[i]
		err := o.prepare(c, obj)
		if err == nil {
			err = c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		}
		switch {
		case gone(err): // a custom resource whose CRD is gone is gone too
			continue
		case err != nil:
			return fmt.Errorf("delete %s: %w", id(obj), err)
		}
		o.log.V(1).Info("deleted", "object", id(obj))
		pending = append(pending, obj)
	}
	// Poll the first object not known to be gone only, to spare the API server; describe all that are
	// left once time is out.
	left := func(ctx context.Context, all bool) []string {
		var there []string
		for len(pending) > len(there) {
			obj := pending[len(there)]
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(obj.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), live)
			switch {
			case gone(err):
				pending = slices.Delete(pending, len(there), len(there)+1)
				continue
			case err != nil:
				there = append(there, fmt.Sprintf("%s: %v", id(obj), err))
			case live.GetDeletionTimestamp() != nil:
				// A Namespace's finalizers are in its spec.
				specFinalizers, _, _ := unstructured.NestedStringSlice(live.Object, "spec", "finalizers")
				there = append(there, fmt.Sprintf("%s (terminating; finalizers: %s)", id(obj),
					strings.Join(append(live.GetFinalizers(), specFinalizers...), ", ")))
			default:
				there = append(there, id(obj))
			}
			if !all {
				break
			}
		}
		return there
	}
	err = wait.PollUntilContextTimeout(ctx, pollInterval, o.timeout, true, func(ctx context.Context) (bool, error) {
		return len(left(ctx, false)) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait %s for deleted objects to be gone: %w; still there: %s", o.timeout, err, strings.Join(left(ctx, true), "; "))
	}
	return nil
}

// prepare sets obj's namespace if it needs one, then runs the transforms.
func (o *options) prepare(c client.Client, obj *unstructured.Unstructured) error {
	if obj.GetNamespace() == "" {
		namespaced, err := c.IsObjectNamespaced(obj)
		if err != nil {
			return err
		}
		if namespaced {
			if o.namespace == "" {
				return errors.New("namespaced object without a namespace: set metadata.namespace or use WithNamespace")
			}
			obj.SetNamespace(o.namespace)
		}
	}
	for _, transform := range o.transforms {
		if err := transform(obj); err != nil {
			return fmt.Errorf("transform: %w", err)
		}
	}
	return nil
}

// waitEstablished waits until each CRD is Established and each of its served versions is known to c's
// RESTMapper. A CRD whose names are not accepted fails at once.
func waitEstablished(ctx context.Context, c client.Client, crds []*unstructured.Unstructured, o *options) error {
	o.log.V(1).Info("waiting for CustomResourceDefinitions to be established", "count", len(crds))
	var last string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.timeout, true, func(ctx context.Context) (bool, error) {
		for _, crd := range crds {
			why, err := notEstablished(ctx, c, crd)
			if err != nil {
				return false, err
			}
			if why != "" {
				last = id(crd) + ": " + why
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("wait %s for CustomResourceDefinitions to be established: %w; last seen: %s", o.timeout, err, last)
	}
	return nil
}

// notEstablished says why crd cannot be used yet, or "" when it can.
func notEstablished(ctx context.Context, c client.Client, crd *unstructured.Unstructured) (string, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(crd.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(crd), live); err != nil {
		return err.Error(), nil
	}
	established := false
	conditions, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, cond := range conditions {
		m, _ := cond.(map[string]any)
		switch {
		case m["type"] == "NamesAccepted" && m["status"] == "False":
			return "", fmt.Errorf("%s: names not accepted: %v", id(crd), m["message"])
		case m["type"] == "Established" && m["status"] == "True":
			established = true
		}
	}
	if !established {
		return "condition Established is not True", nil
	}
	group, _, _ := unstructured.NestedString(live.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(live.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(live.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		if _, err := c.RESTMapper().RESTMapping(schema.GroupKind{Group: group, Kind: kind}, name); err != nil {
			return fmt.Sprintf("kind %s/%s not known to the client yet: %v", group, kind, err), nil
		}
	}
	return "", nil
}

// gone says whether err means the object does not exist, or its kind does not.
func gone(err error) bool { return apierrors.IsNotFound(err) || meta.IsNoMatchError(err) }

// decode reads the objects of a YAML stream, skipping empty documents and those a filter drops.
func decode(manifests []byte, filters []func(*unstructured.Unstructured) bool) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	var objs []*unstructured.Unstructured
docs:
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read YAML document %d: %w", n, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("decode YAML document %d: %w", n, err)
		}
		var m map[string]any
		// utiljson keeps integers as int64, as unstructured objects need.
		if err := utiljson.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("decode YAML document %d: %w", n, err)
		}
		if m == nil { // empty, or only comments
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("YAML document %d (apiVersion %q, kind %q, name %q): apiVersion, kind and metadata.name are required",
				n, u.GetAPIVersion(), u.GetKind(), u.GetName())
		}
		for _, keep := range filters {
			if !keep(u) {
				continue docs
			}
		}
		objs = append(objs, u)
	}
}

// ordered returns the Namespaces, then the CRDs, then the other objects, each in stream order.
func ordered(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, first := range []func(schema.GroupKind) bool{
		func(gk schema.GroupKind) bool { return gk == namespaceKind },
		func(gk schema.GroupKind) bool { return gk == crdKind },
		func(gk schema.GroupKind) bool { return gk != namespaceKind && gk != crdKind },
	} {
		for _, obj := range objs {
			if first(obj.GroupVersionKind().GroupKind()) {
				out = append(out, obj)
			}
		}
	}
	return out
}

// id names an object in errors and logs: "Deployment argocd/argocd-repo-server".
func id(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}
