//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// upgradeLabCount is how many running labs the upgrade feature rolls the controller under, as issue 14
// asks. Each asks for little CPU so that all fit on the cluster's one node without GPUs.
const upgradeLabCount = 20

// TestControllerRestarts runs the features that restart the controller, alone and one after another:
// a debugger stops it, the dev loop and the upgrade replace it. The upgrade's labs are asked for
// first and come up while the other two run: alone, that took 50 s, most of the upgrade feature.
func TestControllerRestarts(t *testing.T) {
	labs := &upgradeLabs{}
	t.Cleanup(labs.cleanUp(t)) // had the upgrade feature not run, its namespace would stay
	test(t, labs.ask(), debugFeature(), devLoopFeature(), upgradeFeature(labs))
}

// upgradeLabs hands the upgrade feature the namespace whose labs ask() asked for.
type upgradeLabs struct {
	s  *suite
	ns string
}

// ask is a feature that asks for upgradeLabCount running labs in a namespace of its own, and does not
// wait for them.
func (u *upgradeLabs) ask() features.Feature {
	return features.New(fmt.Sprintf("The upgrade feature's %d labs are asked for, to come up while the debugger and the dev loop run", upgradeLabCount)).
		WithLabel(labelNeeds, needsContainers).WithLabel(labelNeeds, needsSkaffold).
		Setup(inNamespace("upgrade")).
		Assess("the labs are created", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			proto, _ := buildLab(ctx, t, "requests/lab-cpu.yaml")
			for i := range upgradeLabCount {
				l := proto.DeepCopy()
				l.Namespace, l.Name = namespace(ctx), fmt.Sprintf("lab-%02d", i)
				l.Spec.Resources.CPU = resource.MustParse("50m")
				l.Spec.Resources.Memory = resource.MustParse("256Mi")
				if err := s.client.Create(ctx, l); err != nil {
					t.Fatal(err)
				}
			}
			u.s, u.ns = s, namespace(ctx)
			return ctx
		}).
		Feature()
}

// cleanUp deletes the namespace of the labs, if the upgrade feature did not: deleteNamespace finds
// nothing to do in one that is gone.
func (u *upgradeLabs) cleanUp(t *testing.T) func() {
	return func() {
		if u.ns == "" {
			return
		}
		ctx := context.WithValue(context.WithValue(context.Background(), suiteKey{}, u.s), namespaceKey{}, u.ns)
		deleteNamespace()(ctx, t, nil)
	}
}

func upgradeFeature(labs *upgradeLabs) features.Feature {
	type beforeKey struct{}
	marker := "e2e-upgrade-" + rand.String(8)
	return features.New("A controller upgrade restarts no running lab: its pods keep running and nothing of its is written").
		WithLabel(labelNeeds, needsContainers).WithLabel(labelNeeds, needsSkaffold).
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if labs.ns == "" {
				t.Fatal("the feature before did not get to ask for the labs: nothing to upgrade under")
			}
			ctx = context.WithValue(ctx, namespaceKey{}, labs.ns)
			start := time.Now()
			for i := range upgradeLabCount {
				waitForLabWith(ctx, t, "wait-lab-ready", labNamed(labs.ns, fmt.Sprintf("lab-%02d", i)), "Ready", func(l *labkitv1alpha1.JupyterLab) bool {
					return l.Status.Phase == labkitv1alpha1.PhaseReady
				})
			}
			from(ctx).time(fmt.Sprintf("upgrade: %d labs Ready, after the debug and dev loop features", upgradeLabCount), start)
			return context.WithValue(ctx, beforeKey{}, snapshotLabs(ctx, t, labs.ns))
		}).
		Assess("the controller rolled to a build with an unrelated change reconciles every lab, and changes nothing", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, ns := from(ctx), namespace(ctx)
			work := t.TempDir()
			if err := stack.CopyProject(s.root, work); err != nil {
				t.Fatal(err)
			}
			if err := stack.SetVersion(work, marker); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// The dev loop's host build (go build on this machine, pushed to the cluster's registry).
			if err := s.cluster.Skaffold().In(work).Run(ctx, "-p", "host-build"); err != nil {
				t.Fatal(err)
			}
			pod, err := stack.WaitForControllerVersion(ctx, s.cfg, marker)
			if err != nil {
				t.Fatal(err)
			}
			reconciles := waitForCaughtUp(ctx, t, pod)
			s.time(fmt.Sprintf("upgrade: new controller %s leads and has reconciled every lab (%.0f reconciles)", pod, reconciles), start)

			before := ctx.Value(beforeKey{}).(labsSnapshot)
			after := snapshotLabs(ctx, t, ns)
			for _, change := range before.changes(after) {
				t.Error(change)
			}
			t.Logf("%d labs: %d objects and %d pods as they were before the upgrade", upgradeLabCount, len(before.objects), len(before.pods))
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			restoreController(ctx, t)
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
}

// waitForCaughtUp waits until the controller in pod holds the leader lease and has worked through
// every lab its start put in its queue: the informer hands it every lab before its workers start, so
// an empty queue with no worker busy after at least one reconcile per lab means each was reconciled.
// It returns the reconciles counted.
func waitForCaughtUp(ctx context.Context, t *testing.T, pod string) float64 {
	t.Helper()
	c, err := stack.ControllerPod(from(ctx).cfg, pod)
	if err != nil {
		t.Fatal(err)
	}
	var reconciles float64
	err = stack.Waits.Until(ctx, "wait-controller-caught-up", func(ctx context.Context) (string, error) {
		m, err := c.Scrape(ctx)
		if err != nil {
			return err.Error(), nil // the pod may not serve its metrics yet
		}
		reconciles = m.Sum("controller_runtime_reconcile_total", "controller", "jupyterlab")
		switch depth, busy := m.Sum("workqueue_depth", "name", "jupyterlab"), m.Sum("controller_runtime_active_workers", "controller", "jupyterlab"); {
		case m.Sum("leader_election_master_status") != 1:
			return "not the leader yet", nil
		case reconciles < upgradeLabCount || depth > 0 || busy > 0:
			return fmt.Sprintf("%.0f reconciles, %.0f labs queued, %.0f workers busy", reconciles, depth, busy), nil
		}
		return "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reconciles
}

// labsSnapshot is what a namespace's labs are made of, to compare across an upgrade: every child by
// its resource version (any write changes it) and every pod by its UID and restarts.
type labsSnapshot struct {
	objects map[string]string // "Deployment lab-00" -> resource version
	pods    map[string]int32  // "lab-00 (lab-00-5d8f...)", the lab and its pod by name -> its restarts
}

func snapshotLabs(ctx context.Context, t *testing.T, ns string) labsSnapshot {
	t.Helper()
	c := from(ctx).client
	snap := labsSnapshot{objects: map[string]string{}, pods: map[string]int32{}}
	lists := map[string]client.ObjectList{
		"JupyterLab": &labkitv1alpha1.JupyterLabList{}, "Deployment": &appsv1.DeploymentList{}, "Service": &corev1.ServiceList{},
		"Secret": &corev1.SecretList{}, "PersistentVolumeClaim": &corev1.PersistentVolumeClaimList{},
	}
	for kind, list := range lists {
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			o, err := meta.Accessor(item)
			if err != nil {
				t.Fatal(err)
			}
			snap.objects[kind+" "+o.GetName()] = o.GetResourceVersion()
		}
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		var restarts int32
		for _, st := range p.Status.ContainerStatuses {
			restarts += st.RestartCount
		}
		snap.pods[p.Labels[labkitv1alpha1.LabLabel]+" ("+p.Name+")"] = restarts
	}
	return snap
}

// changes says what differs in after, one line per object written, pod replaced or restarted.
func (before labsSnapshot) changes(after labsSnapshot) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(before.objects)) {
		switch rv, ok := after.objects[k]; {
		case !ok:
			out = append(out, k+" is gone")
		case rv != before.objects[k]:
			out = append(out, fmt.Sprintf("%s was written (resource version %s -> %s)", k, before.objects[k], rv))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(before.pods)) {
		switch p, ok := after.pods[k]; {
		case !ok:
			out = append(out, "pod of lab "+k+" is gone: the lab was restarted")
		case p != before.pods[k]:
			out = append(out, fmt.Sprintf("pod of lab %s restarted its container (%d -> %d restarts)", k, before.pods[k], p))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after.pods)) {
		if _, ok := before.pods[k]; !ok {
			out = append(out, "new pod "+k+": a lab was restarted")
		}
	}
	if len(before.pods) < upgradeLabCount || !slices.ContainsFunc(slices.Collect(maps.Keys(before.objects)), func(k string) bool { return strings.HasPrefix(k, "Deployment ") }) {
		out = append(out, fmt.Sprintf("%d lab pods before the upgrade, want %d, and Deployments: too little was compared", len(before.pods), upgradeLabCount))
	}
	return out
}
