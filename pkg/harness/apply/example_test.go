package apply_test

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
)

// A test applies a stream of manifests into its namespace, edited on the way, and deletes it again.
// env.Client is the client of the API server this package's TestMain starts; any controller-runtime
// client will do.
func Example() {
	ctx := context.Background()
	ns, err := env.Namespace(ctx, "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	manifests := []byte(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: password}
stringData: {password: not-a-secret}
`)
	opts := []apply.Option{
		apply.WithNamespace(ns), // for the objects that name none
		apply.WithTransform(func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "e2e", "metadata", "labels", "suite")
		}),
	}
	applied, err := apply.Apply(ctx, env.Client, manifests, opts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, obj := range applied {
		fmt.Println(obj.GetKind(), obj.GetName(), obj.GetNamespace() == ns, obj.GetLabels()["suite"])
	}
	fmt.Println(apply.Delete(ctx, env.Client, manifests, opts...)) // waits until they are gone
	// Output:
	// ConfigMap settings true e2e
	// Secret password true e2e
	// <nil>
}
