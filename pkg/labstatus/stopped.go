package labstatus

import (
	"cmp"
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// WaitStopped waits until the lab runs no pod: its status.phase is Stopped and no pod carries its label
// labkit.dev/lab, not even one still terminating, so whatever the lab held (its GPUs) is free for others.
// A lab the cluster does not have runs no pod either. It reports each step (WithProgress) and polls at
// WithPollInterval; when ctx ends first, the error says what it saw last. The cluster source is needed.
func WaitStopped(ctx context.Context, src Sources, namespace, name string, opts ...WaitOption) error {
	if src.Cluster == nil {
		return fmt.Errorf("wait for lab %s/%s to stop: no cluster to watch it in: %v", namespace, name, src.ClusterErr)
	}
	o := &waitOptions{progress: func(string) {}, interval: DefaultPollInterval}
	for _, opt := range opts {
		opt.apply(o)
	}
	w := &stopWaiter{waiter: &waiter{src: src, namespace: namespace, name: name, o: o, said: map[string]bool{}}}
	start := time.Now()
	err := wait.PollUntilContextCancel(ctx, o.interval, true, w.stopped)
	if err != nil && ctx.Err() != nil {
		seen := cmp.Or(w.last, "nothing yet")
		if w.readErr != nil {
			seen += "; then " + w.readErr.Error()
		}
		return fmt.Errorf("gave up after %s waiting for lab %s/%s to stop and its pod to go; last seen: %s (labctl status %s says more)",
			time.Since(start).Round(time.Second), namespace, name, seen, name)
	}
	return err
}

// stopWaiter is a waiter that also keeps the last error that a look again may mend.
type stopWaiter struct {
	*waiter
	readErr error
}

// stopped looks once: whether the lab is stopped and its pods are gone.
func (w *stopWaiter) stopped(ctx context.Context) (bool, error) {
	w.readErr = nil
	lab := &labkitv1alpha1.JupyterLab{}
	err := w.src.Cluster.Get(ctx, client.ObjectKey{Namespace: w.namespace, Name: w.name}, lab)
	found := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return false, w.readError(fmt.Errorf("read lab %s/%s: %w", w.namespace, w.name, explain(err)))
	}
	if found && lab.Status.Phase != labkitv1alpha1.PhaseStopped {
		w.say("waiting for the lab to stop: it is %s", describeLab(labFrom(lab), &Status{Namespace: w.namespace, Name: w.name}))
		return false, nil
	}
	// Every pod, also those being deleted: a terminating pod still holds its GPUs.
	pods := &corev1.PodList{}
	if err := w.src.Cluster.List(ctx, pods, client.InNamespace(w.namespace), client.MatchingLabels{labkitv1alpha1.LabLabel: w.name}); err != nil {
		return false, w.readError(fmt.Errorf("list the pods of lab %s/%s: %w", w.namespace, w.name, explain(err)))
	}
	if len(pods.Items) > 0 {
		p := pods.Items[0]
		state := string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			state = "terminating"
		}
		w.say("stopped; waiting for pod %s to go (%s)", p.Name, state)
		return false, nil
	}
	if !found {
		w.say("lab %s/%s is not in the cluster: no pod of it runs", w.namespace, w.name)
	} else {
		w.say("stopped: no pod of lab %s/%s is left", w.namespace, w.name)
	}
	return true, nil
}

// readError ends the wait on what no retry mends (not allowed to read, no such kind); anything else,
// such as a network error or a request the client's rate limit holds back, is kept, and it looks again.
func (w *stopWaiter) readError(err error) error {
	if apierrors.IsForbidden(err) || meta.IsNoMatchError(err) {
		return err
	}
	w.readErr = err
	return nil
}
