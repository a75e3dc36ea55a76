package argocd

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RefreshAnnotation asks Argo CD to compare an Application with Git at once; Argo CD removes it when done.
const RefreshAnnotation = "argocd.argoproj.io/refresh"

// Get reads an Application through c, which needs no Argo CD types in its scheme.
func Get(ctx context.Context, c client.Reader, namespace, name string) (*Application, error) {
	u := newUnstructured(namespace, name)
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
		return nil, err
	}
	return decode(u)
}

// List reads the Applications of a namespace.
func List(ctx context.Context, c client.Reader, namespace string) ([]*Application, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(GroupVersion.WithKind("ApplicationList"))
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	apps := make([]*Application, 0, len(list.Items))
	for i := range list.Items {
		app, err := decode(&list.Items[i])
		if err != nil {
			return nil, err
		}
		apps = append(apps, app)
	}
	return apps, nil
}

// Refresh asks Argo CD to compare the Application with Git at once instead of at its next
// reconciliation, by setting the annotation argocd.argoproj.io/refresh=normal.
func Refresh(ctx context.Context, c client.Writer, namespace, name string) error {
	patch := []byte(`{"metadata":{"annotations":{"` + RefreshAnnotation + `":"normal"}}}`)
	if err := c.Patch(ctx, newUnstructured(namespace, name), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("refresh application %s/%s: %w", namespace, name, err)
	}
	return nil
}

func decode(u *unstructured.Unstructured) (*Application, error) {
	var app Application
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &app); err != nil {
		return nil, fmt.Errorf("decode application %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return &app, nil
}

func newUnstructured(namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GroupVersion.WithKind("Application"))
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}
