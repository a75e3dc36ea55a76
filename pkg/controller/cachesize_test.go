package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"
	"unsafe"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// servedScheme knows the built-in kinds and labs.
var servedScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), labkitv1alpha1.AddToScheme(s)); err != nil {
		panic(err)
	}
	return s
}()

// labAsServed is lab i and its children as the API server sends them to the cache: decoded from the
// wire (protobuf for the children, JSON for the lab, as for any custom resource), so that each holds
// its own copies of its strings, with the fields the API server, the kubelet and the controllers fill.
func labAsServed(tb testing.TB, i int) []client.Object {
	tb.Helper()
	lab := newLab("scale-api", fmt.Sprintf("fake-a100-%04d", i), 1)
	lab.UID = types.UID(fmt.Sprintf("8a6f1c2e-0000-4000-8000-%012d", i))
	lab.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "labctl", Operation: metav1.ManagedFieldsOperationApply}}
	pod := fullPod("fake-a100-12", true, "")
	pod.Name, pod.Namespace, pod.UID = lab.Name+"-7d9c5b8f6-x2x9q", lab.Namespace, types.UID(fmt.Sprintf("9b7e2d3f-0000-4000-8000-%012d", i))
	template := desiredDeployment(lab, Inputs{}).Spec.Template
	pod.Labels, pod.Annotations = template.Labels, template.Annotations
	objs := []client.Object{pod}
	for _, c := range Children(lab, Inputs{APIToken: "t0k3n-0123456789abcdef0123456789abcdef"}) {
		if err := controllerutil.SetControllerReference(lab, c, servedScheme); err != nil {
			tb.Fatal(err)
		}
		c.SetUID(types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012d", len(objs), i)))
		c.SetResourceVersion("123456")
		c.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: FieldOwner, Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{}},"f:spec":{}}`)}}})
		switch c := c.(type) {
		case *appsv1.Deployment:
			c.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: `ReplicaSet "` + lab.Name + `-7d9c5b8f6" has successfully progressed.`}}}
		case *corev1.PersistentVolumeClaim:
			c.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: c.Spec.AccessModes,
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("100Gi")}}
		case *corev1.Service:
			c.Spec.ClusterIP, c.Spec.ClusterIPs = "10.96.12.34", []string{"10.96.12.34"}
		}
		objs = append(objs, c)
	}
	pb := protobuf.NewSerializer(clientgoscheme.Scheme, clientgoscheme.Scheme)
	served := make([]client.Object, 0, len(objs)+1)
	for _, o := range objs {
		var buf bytes.Buffer
		if err := pb.Encode(o, &buf); err != nil {
			tb.Fatal(err)
		}
		out := o.DeepCopyObject().(client.Object)
		if _, _, err := pb.Decode(buf.Bytes(), nil, out); err != nil {
			tb.Fatal(err)
		}
		served = append(served, out)
	}
	b, err := json.Marshal(lab)
	if err != nil {
		tb.Fatal(err)
	}
	servedLab := &labkitv1alpha1.JupyterLab{}
	if err := json.Unmarshal(b, servedLab); err != nil {
		tb.Fatal(err)
	}
	return append(served, servedLab)
}

// asWatched is o as the cache's watch receives it: a Deployment as its metadata only (SetupWithManager
// watches Deployments so), everything else whole.
func asWatched(o client.Object) client.Object {
	d, ok := o.(*appsv1.Deployment)
	if !ok {
		return o
	}
	return deploymentMeta(d.ObjectMeta)
}

// transformOf is the transform the cache applies to o, as CacheOptions configures it for o's kind.
func transformOf(tb testing.TB, o client.Object) toolscache.TransformFunc {
	tb.Helper()
	opts := cacheOptions()
	gvk, err := apiutil.GVKForObject(o, servedScheme)
	if err != nil {
		tb.Fatal(err)
	}
	for kind, by := range opts.ByObject {
		if k, err := apiutil.GVKForObject(kind, servedScheme); err == nil && k == gvk && by.Transform != nil {
			return by.Transform
		}
	}
	return opts.DefaultTransform
}

var cacheOptions = sync.OnceValue(func() cache.Options { return CacheOptions(DefaultSettings) })

// slimMeta changes where a child's metadata is stored, not what it says: the cached Secret, Service,
// volume claim and Ingress equal what the API server sent but for managedFields, and the strings every
// child of a lab repeats (namespace, label keys and values, owner) are one copy for them all.
func TestSlimChildKeepsTheMetadataAndSharesItsStrings(t *testing.T) {
	t.Parallel()
	objs := labAsServed(t, 7)
	var slim []client.Object
	for _, o := range objs {
		o = asWatched(o)
		want := o.DeepCopyObject().(client.Object)
		want.SetManagedFields(nil)
		out, err := transformOf(t, o)(o)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(client.Object)
		slim = append(slim, got)
		switch o.(type) {
		case *corev1.Pod, *labkitv1alpha1.JupyterLab: // slimmed further: transform_test.go
			continue
		}
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("cached %T %+v\nwant %+v", got, got, want)
		}
	}
	same := func(what string, a, b string) {
		if a != b || unsafe.StringData(a) != unsafe.StringData(b) {
			t.Errorf("%s: %q and %q are two copies; want one", what, a, b)
		}
	}
	for _, o := range slim[1:] {
		kind := fmt.Sprintf("%T", o)
		same("namespace of the pod and the "+kind, slim[0].GetNamespace(), o.GetNamespace())
		for k, v := range o.GetLabels() {
			for k0, v0 := range slim[0].GetLabels() {
				if k == k0 {
					same("label "+k+" of the pod and the "+kind, k0, k)
					same("value of label "+k+" of the pod and the "+kind, v0, v)
				}
			}
		}
	}
	secret, service := slim[1], slim[len(slim)-2]
	same("owner of the Secret and the Service", secret.GetOwnerReferences()[0].Name, service.GetOwnerReferences()[0].Name)
	same("owner's kind of the Secret and the Service", secret.GetOwnerReferences()[0].Kind, service.GetOwnerReferences()[0].Kind)
}

// BenchmarkCacheBytesPerLab reports the heap that the cache's copies of a lab and its children keep,
// live after a collection: as the API server sends them with only managedFields dropped (whole), and
// as the cache keeps them (slim: Deployments watched as their metadata, every object through its
// transform). The cache's own index and store add to both alike.
func BenchmarkCacheBytesPerLab(b *testing.B) {
	const labs = 2000
	for _, mode := range []string{"whole", "slim"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				goruntime.GC()
				var before, after goruntime.MemStats
				goruntime.ReadMemStats(&before)
				cached := make([][]client.Object, labs)
				for i := range cached {
					for _, o := range labAsServed(b, i) {
						transform := cache.TransformStripManagedFields()
						if mode == "slim" {
							o = asWatched(o)
							transform = transformOf(b, o)
						}
						out, err := transform(o)
						if err != nil {
							b.Fatal(err)
						}
						cached[i] = append(cached[i], out.(client.Object))
					}
				}
				goruntime.GC()
				goruntime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/labs, "B/lab")
				goruntime.KeepAlive(cached)
			}
		})
	}
}
