package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	labkitcontroller "github.com/labkit-dev/labkit/pkg/controller"
)

// checkWhole checks that every lab of want is in ns with a status (a phase, and a Ready condition that
// is true), and that ns holds each child the controller makes for a lab (controller.Children: its
// config Secret, volume claim, Deployment and Service, and an Ingress where the settings give a
// domain) exactly once, labelled for and owned by its lab, and no other child of a lab: nothing lost,
// nothing doubled. It reports the counts; what is wrong is its error.
func checkWhole(ctx context.Context, r *report, c client.Client, ns string, want []lab) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	list := &labkitv1alpha1.JupyterLabList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	byUID := map[types.UID]string{}
	live := map[string]lab{}
	for i := range list.Items {
		l := &list.Items[i]
		byUID[l.UID], live[l.Name] = l.Name, l
	}
	withStatus := 0
	for _, l := range want {
		switch got, ok := live[l.Name]; {
		case !ok:
			bad("lab %s is gone", l.Name)
		case got.Status.Phase == "" || !meta.IsStatusConditionTrue(got.Status.Conditions, labkitv1alpha1.ConditionReady):
			bad("lab %s: phase %q, Ready condition %+v", l.Name, got.Status.Phase, meta.FindStatusCondition(got.Status.Conditions, labkitv1alpha1.ConditionReady))
		default:
			withStatus++
		}
	}
	if len(live) != len(want) {
		bad("%d labs in namespace %s, want %d", len(live), ns, len(want))
	}
	r.add(fmt.Sprintf("labs of %s with a status (phase, Ready=True)", ns), "%d of %d", withStatus, len(want))

	settings, err := labkitcontroller.LoadSettings(ctx, c, labkitcontroller.DefaultSettings)
	if err != nil {
		return err
	}
	// What the controller makes for each lab: kind -> child name -> lab.
	expected := map[schema.GroupVersionKind]map[string]string{}
	var kinds []schema.GroupVersionKind
	for _, l := range want {
		for _, obj := range labkitcontroller.Children(l, labkitcontroller.Inputs{Settings: settings}) {
			gvk, err := apiutil.GVKForObject(obj, c.Scheme())
			if err != nil {
				return err
			}
			if expected[gvk] == nil {
				expected[gvk] = map[string]string{}
				kinds = append(kinds, gvk)
			}
			expected[gvk][obj.GetName()] = l.Name
		}
	}
	total, wantTotal := 0, 0
	for _, gvk := range kinds {
		items, err := labChildren(ctx, c, ns, gvk)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		count := 0
		for i := range items {
			item := &items[i]
			owner, labName := metav1.GetControllerOf(item), item.Labels[labkitv1alpha1.LabLabel]
			count++
			l, made := expected[gvk][item.Name]
			switch {
			case !made:
				bad("%s %s (lab label %q, owner %v): the controller makes no such child: a second one?", gvk.Kind, item.Name, labName, owner)
			case labName != l:
				bad("%s %s: labelled for lab %q, want %q", gvk.Kind, item.Name, labName, l)
			case owner == nil || owner.Kind != "JupyterLab" || byUID[owner.UID] != l:
				bad("%s %s: controller owner %v, want lab %s", gvk.Kind, item.Name, owner, l)
			default:
				seen[item.Name] = true
			}
		}
		for name, l := range expected[gvk] {
			if !seen[name] {
				bad("%s %s of lab %s is missing", gvk.Kind, name, l)
			}
		}
		r.add(fmt.Sprintf("%ss of labs in %s", gvk.Kind, ns), "%d (want %d: one per lab)", count, len(expected[gvk]))
		total += count
		wantTotal += len(expected[gvk])
	}
	r.add("children of labs in all", "%d (want %d: %d per lab × %d labs)", total, wantTotal, len(kinds), len(want))
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("namespace %s: %d things wrong: %s", ns, len(problems), strings.Join(firstN(problems, 20), "; "))
	}
	r.add("verdict", "nothing lost, nothing doubled")
	return nil
}

// labChildren are the objects of kind gvk in ns that are some lab's: labelled for one or owned by one
// (not, say, what Kubernetes puts in every namespace). Their metadata only.
func labChildren(ctx context.Context, c client.Client, ns string, gvk schema.GroupVersionKind) ([]metav1.PartialObjectMetadata, error) {
	items := &metav1.PartialObjectMetadataList{}
	items.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, items, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list the %ss of namespace %s: %w", gvk.Kind, ns, err)
	}
	var out []metav1.PartialObjectMetadata
	for _, item := range items.Items {
		if metav1.GetControllerOf(&item) != nil || item.Labels[labkitv1alpha1.LabLabel] != "" {
			out = append(out, item)
		}
	}
	return out, nil
}

// childKinds are the kinds of the children the controller makes for l with settings.
func childKinds(c client.Client, l lab, settings labkitcontroller.Settings) ([]schema.GroupVersionKind, error) {
	var kinds []schema.GroupVersionKind
	for _, obj := range labkitcontroller.Children(l, labkitcontroller.Inputs{Settings: settings}) {
		gvk, err := apiutil.GVKForObject(obj, c.Scheme())
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, gvk)
	}
	return kinds, nil
}

// progress is how far the controller got with the labs of a namespace: how many have all their
// children, and how many some but not all.
type progress struct{ whole, partial, kinds int }

// childProgress reads the progress of the labs of ns, whose children are of kinds.
func childProgress(ctx context.Context, c client.Client, ns string, kinds []schema.GroupVersionKind) (progress, error) {
	have := map[string]int{} // lab -> kinds of child it has
	for _, gvk := range kinds {
		items, err := labChildren(ctx, c, ns, gvk)
		if err != nil {
			return progress{}, err
		}
		for _, item := range items {
			have[item.Labels[labkitv1alpha1.LabLabel]]++
		}
	}
	p := progress{kinds: len(kinds)}
	for _, n := range have {
		if n >= len(kinds) {
			p.whole++
		} else {
			p.partial++
		}
	}
	return p, nil
}
