package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// asAnOlderControllerRenderedIt makes the lab's Deployment what an older controller version would have
// left: a pod template with a default this version no longer sets, under that version's template hash.
func asAnOlderControllerRenderedIt(t *testing.T, dep *appsv1.Deployment) string {
	t.Helper()
	c := &dep.Spec.Template.Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "OLD_DEFAULT", Value: "1"})
	dep.Annotations[TemplateHashAnnotation] = "an-older-version"
	if err := env.Client.Update(t.Context(), dep); err != nil {
		t.Fatal(err)
	}
	return dep.ResourceVersion
}

func hasOldDefault(dep *appsv1.Deployment) bool {
	return slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "OLD_DEFAULT" })
}

func TestAControllerThatRendersARunningLabDifferentlyKeepsItsPodUntilTheLabsNextStart(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "upgraded", 0)
	create(t, ctx, lab)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: lab.Name, Namespace: ns}}
	waitForObject(t, ctx, dep, "the lab's Deployment, with its rendering annotations", func() string {
		if dep.Annotations[TemplateHashAnnotation] == "" || dep.Annotations[RenderedForAnnotation] == "" {
			return fmt.Sprintf("annotations %v", dep.Annotations)
		}
		return ""
	})

	// The lab runs; this controller renders its unchanged spec differently from the one before it.
	rv := asAnOlderControllerRenderedIt(t, dep)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionPodCurrent, metav1.ConditionFalse, labkitv1alpha1.ReasonAppliesAtNextStart)
	if msg := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionPodCurrent).Message; !strings.Contains(msg, "spec.template.spec.containers[0].env") ||
		!strings.Contains(msg, "labctl stop upgraded, then labctl start upgraded") {
		t.Errorf("PodCurrent message = %q, want the field that waits and how to apply it", msg)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
		t.Fatal(err)
	}
	if dep.ResourceVersion != rv || !hasOldDefault(dep) {
		t.Errorf("the running lab's Deployment was written (resource version %s -> %s; old default kept: %v): its pod restarts", rv, dep.ResourceVersion, hasOldDefault(dep))
	}

	// Its own spec changes: the pod is made anew anyway, with all of this version's rendering.
	lab.Spec.Env = []labkitv1alpha1.EnvVar{{Name: "PROJECT", Value: ptr.To("upgrade")}}
	if err := env.Client.Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, dep, "the pod template rendered anew for the changed spec", func() string {
		env := dep.Spec.Template.Spec.Containers[0].Env
		if hasOldDefault(dep) || !slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == "PROJECT" }) || dep.Annotations[TemplateHashAnnotation] == "an-older-version" {
			return fmt.Sprintf("env %v, template hash %s", env, dep.Annotations[TemplateHashAnnotation])
		}
		return ""
	})
	waitForObject(t, ctx, lab, "PodCurrent gone from the lab's conditions", func() string {
		if c := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionPodCurrent); c != nil {
			return fmt.Sprintf("%+v", c)
		}
		return ""
	})

	// Again rendered differently; this time the lab is stopped: with no pod to restart it gets it all.
	rv = asAnOlderControllerRenderedIt(t, dep)
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionPodCurrent, metav1.ConditionFalse, labkitv1alpha1.ReasonAppliesAtNextStart)
	lab.Spec.Stopped = true
	if err := env.Client.Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, dep, "the stopped lab's Deployment at zero with this version's pod template", func() string {
		if ptr.Deref(dep.Spec.Replicas, 1) != 0 || hasOldDefault(dep) || dep.Annotations[TemplateHashAnnotation] == "an-older-version" {
			return fmt.Sprintf("replicas %d, old default %v, template hash %s", ptr.Deref(dep.Spec.Replicas, 1), hasOldDefault(dep), dep.Annotations[TemplateHashAnnotation])
		}
		return ""
	})
	if dep.ResourceVersion == rv {
		t.Error("the stopped lab's Deployment was not written")
	}
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonStopped)
	if c := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionPodCurrent); c != nil {
		t.Errorf("a stopped lab with this version's pod template has condition %+v", c)
	}
}

func TestADeploymentFromBeforeTheRenderingAnnotationsIsStampedNotRestarted(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "older", 0)
	create(t, ctx, lab)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: lab.Name, Namespace: ns}}
	waitForObject(t, ctx, dep, "the lab's Deployment", always)
	template := dep.Spec.Template.DeepCopy()
	// As the controller before this change made it: the same template, no annotations.
	delete(dep.Annotations, TemplateHashAnnotation)
	delete(dep.Annotations, RenderedForAnnotation)
	if err := env.Client.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, dep, "the Deployment stamped again", func() string {
		if dep.Annotations[TemplateHashAnnotation] == "" || dep.Annotations[RenderedForAnnotation] == "" {
			return fmt.Sprintf("annotations %v", dep.Annotations)
		}
		return ""
	})
	// (Its generation moves: the API server counts a Deployment's annotations, which it copies to the
	// ReplicaSet, as a change; only a new pod template makes a new ReplicaSet and restarts the pod.)
	if !equality.Semantic.DeepEqual(&dep.Spec.Template, template) {
		t.Errorf("stamping the annotations changed the pod template: the lab restarts\nbefore %+v\nafter  %+v", template, dep.Spec.Template)
	}
}
