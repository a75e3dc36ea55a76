package assert

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/match"
)

// Option configures Object, File and Gone.
type Option interface{ apply(*options) error }

type options struct {
	timeoutName string
	timeout     time.Duration
	interval    time.Duration
	namespace   string
	match       []match.Option
	log         logr.Logger
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// WithTimeout sets how long to wait, under a name that errors quote so a failure says which wait ran out,
// such as "wait-lab-ready". The default is "default", 30 seconds.
func WithTimeout(name string, d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if name == "" || d <= 0 {
			return fmt.Errorf("timeout %q of %s: give a name and a positive duration", name, d)
		}
		o.timeoutName, o.timeout = name, d
		return nil
	})
}

// WithInterval sets how often the object is read; the default is 250ms.
func WithInterval(d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("interval %s is not positive", d)
		}
		o.interval = d
		return nil
	})
}

// WithNamespace sets the namespace of objects that name none. An object that names another one is an error,
// as with kubectl --namespace.
func WithNamespace(ns string) Option {
	return optionFunc(func(o *options) error {
		o.namespace = ns
		return nil
	})
}

// Ordered compares lists element by element instead of without regard to order (see match.Ordered).
func Ordered() Option {
	return optionFunc(func(o *options) error {
		o.match = append(o.match, match.Ordered())
		return nil
	})
}

// WithLogger sets the logger; the default discards everything. Every read that does not satisfy the wait yet is
// logged at V(1) with the reason.
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(o *options) error {
		o.log = l
		return nil
	})
}

func newOptions(opts []Option) (*options, error) {
	o := &options{timeoutName: "default", timeout: 30 * time.Second, interval: 250 * time.Millisecond, log: logr.Discard()}
	for _, opt := range opts {
		if err := opt.apply(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ref names an object to read.
type ref struct {
	gvk schema.GroupVersionKind
	key client.ObjectKey
}

func (r ref) String() string {
	if r.key.Namespace == "" {
		return r.gvk.Kind + " " + r.key.Name
	}
	return r.gvk.Kind + " " + r.key.String()
}

// get reads the object, or returns nil when it does not exist.
func (r ref) get(ctx context.Context, c client.Client) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.gvk)
	switch err := c.Get(ctx, r.key, u); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", r, err)
	}
	return u, nil
}

// namespaced resolves the namespace of an object that names ns (or none) against WithNamespace.
func (o *options) namespaced(ns string) (string, error) {
	if ns != "" && o.namespace != "" && ns != o.namespace {
		return "", fmt.Errorf("the object's namespace %q does not match the namespace %q given with WithNamespace", ns, o.namespace)
	}
	return cmp.Or(ns, o.namespace), nil
}

// poll calls check until it reports nothing left to wait for, or the timeout or ctx ends; then the error
// is the last reason check gave, prefixed with what stopped the wait. Each check runs under ctx, not under
// the timeout, so that the last reason is what the last read saw rather than a read cut short by the
// timeout; the timeout bounds when the last check starts.
func (o *options) poll(ctx context.Context, check func(ctx context.Context) error) error {
	var why error
	err := wait.PollUntilContextTimeout(ctx, o.interval, o.timeout, true, func(context.Context) (bool, error) {
		if why = check(ctx); why != nil {
			o.log.V(1).Info("waiting", "timeout", o.timeoutName, "reason", why.Error())
		}
		return why == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%w before timeout %q (%s) passed: %w", ctx.Err(), o.timeoutName, o.timeout, why)
	default:
		return fmt.Errorf("timeout %q (%s) passed: %w", o.timeoutName, o.timeout, why)
	}
}

// Object waits until the live objects contain the expected ones, read every interval until the timeout.
//
// expectedYAML holds one partial object, or several as YAML documents separated by "---", all of which must
// hold at once. Each gives apiVersion, kind, metadata.name and, unless it is cluster-scoped or WithNamespace
// gives it, metadata.namespace, plus the fields that must hold. Maps match as subsets and lists without regard
// to order unless Ordered is given (see match.Contains).
//
// On failure the error names the timeout and, for each object that does not hold, says that it does not exist,
// or lists the paths that differ with the expected and actual values followed by the live object's top-level
// fields that differ, as YAML.
func Object(ctx context.Context, c client.Client, expectedYAML []byte, opts ...Option) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	var expected []expectation
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(expectedYAML)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read expected YAML document %d: %w", i, err)
		}
		e, err := o.expectation(doc)
		if err != nil {
			return fmt.Errorf("expected YAML document %d: %w", i, err)
		}
		if e != nil {
			expected = append(expected, *e)
		}
	}
	if len(expected) == 0 {
		return errors.New("expected YAML holds no object: give at least apiVersion, kind and metadata.name")
	}
	return o.poll(ctx, func(ctx context.Context) error {
		var errs []error
		for _, e := range expected {
			errs = append(errs, e.check(ctx, c, o.match))
		}
		return errors.Join(errs...)
	})
}

// File is Object with the expected YAML read from path.
func File(ctx context.Context, c client.Client, path string, opts ...Option) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read expected objects: %w", err)
	}
	if err := Object(ctx, c, b, opts...); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Gone waits until obj (typed or unstructured; only its kind, namespace and name count) no longer exists.
// On failure the error says it still exists, and since when it is being deleted and which finalizers hold
// it, if it is.
func Gone(ctx context.Context, c client.Client, obj client.Object, opts ...Option) error {
	o, err := newOptions(opts)
	if err != nil {
		return err
	}
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return fmt.Errorf("kind of %s: %w", obj.GetName(), err)
	}
	ns, err := o.namespaced(obj.GetNamespace())
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	r := ref{gvk: gvk, key: client.ObjectKey{Namespace: ns, Name: obj.GetName()}}
	return o.poll(ctx, func(ctx context.Context) error {
		live, err := r.get(ctx, c)
		switch {
		case err != nil:
			return err
		case live == nil:
			return nil
		case live.GetDeletionTimestamp() != nil:
			return fmt.Errorf("%s still exists, being deleted since %s, held by finalizers %v",
				r, live.GetDeletionTimestamp().UTC().Format(time.RFC3339), live.GetFinalizers())
		default:
			return fmt.Errorf("%s still exists", r)
		}
	})
}

// expectation is one expected partial object.
type expectation struct {
	ref
	fields map[string]any
}

// expectation parses one YAML document; it returns nil for a document holding only comments or nothing.
func (o *options) expectation(doc []byte) (*expectation, error) {
	var fields map[string]any
	if err := yaml.Unmarshal(doc, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, nil
	}
	u := unstructured.Unstructured{Object: fields}
	if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
		return nil, fmt.Errorf("an expected object needs apiVersion, kind and metadata.name; got apiVersion %q, kind %q, name %q",
			u.GetAPIVersion(), u.GetKind(), u.GetName())
	}
	ns, err := o.namespaced(u.GetNamespace())
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return &expectation{ref: ref{gvk: u.GroupVersionKind(), key: client.ObjectKey{Namespace: ns, Name: u.GetName()}}, fields: fields}, nil
}

// check reads the live object and says how it differs from the expected one, or returns nil if it matches.
func (e expectation) check(ctx context.Context, c client.Client, opts []match.Option) error {
	live, err := e.get(ctx, c)
	if err != nil {
		return err
	}
	if live == nil {
		return fmt.Errorf("%s does not exist", e.ref)
	}
	// Match one top-level field at a time to show the live value of just those that differ.
	var mismatches []match.Mismatch
	differing := map[string]any{}
	for _, k := range slices.Sorted(maps.Keys(e.fields)) {
		ms := match.Contains(map[string]any{k: e.fields[k]}, live.Object, opts...)
		if len(ms) == 0 {
			continue
		}
		mismatches = append(mismatches, ms...)
		if v, ok := live.Object[k]; ok {
			differing[k] = v
		}
	}
	if len(mismatches) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s does not match:\n%s", e.ref, match.Report(mismatches))
	if md, ok := differing["metadata"].(map[string]any); ok {
		md = maps.Clone(md)
		delete(md, "managedFields")
		differing["metadata"] = md
	}
	if len(differing) > 0 {
		b, err := yaml.Marshal(differing)
		if err != nil {
			return fmt.Errorf("render live %s: %w", e.ref, err)
		}
		msg += "\nlive object:\n  " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n  ")
	}
	return errors.New(msg)
}
