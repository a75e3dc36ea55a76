package controller

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// stoppedState says whether a lab must run no pod at now, and why, from what Git holds (spec.stopped,
// spec.expiresAt) and what the controller decided before (status.stopped with reason Idle, which holds
// until spec.startedAt changes). It keeps the time of a reason that holds already, so the status does
// not change on every reconcile. nil: the lab runs.
func stoppedState(lab *labkitv1alpha1.JupyterLab, now time.Time) *labkitv1alpha1.StoppedStatus {
	prev := lab.Status.Stopped
	keep := func(reason string, since time.Time) *labkitv1alpha1.StoppedStatus {
		if prev != nil && prev.Reason == reason {
			return prev.DeepCopy()
		}
		return &labkitv1alpha1.StoppedStatus{Reason: reason, Since: metav1.NewTime(since)}
	}
	switch exp := lab.Spec.ExpiresAt; {
	case lab.Spec.Stopped:
		return keep(labkitv1alpha1.ReasonStopped, now)
	case exp != nil && !now.Before(exp.Time):
		return keep(labkitv1alpha1.ReasonExpired, exp.Time)
	case prev != nil && prev.Reason == labkitv1alpha1.ReasonIdle && sameTime(prev.StartedAt, lab.Spec.StartedAt):
		return prev.DeepCopy()
	}
	return nil
}

// culled is the status of a lab the controller stops at now for being idle.
func culled(lab *labkitv1alpha1.JupyterLab, now time.Time) *labkitv1alpha1.StoppedStatus {
	s := &labkitv1alpha1.StoppedStatus{Reason: labkitv1alpha1.ReasonIdle, Since: metav1.NewTime(now)}
	if lab.Spec.StartedAt != nil {
		s.StartedAt = lab.Spec.StartedAt.DeepCopy()
	}
	return s
}

func sameTime(a, b *metav1.Time) bool {
	switch {
	case a == nil || b == nil:
		return a == nil && b == nil
	}
	return a.Equal(b)
}

// stoppedMessage says why a stopped lab runs no pod, and how to start it again.
func stoppedMessage(lab *labkitv1alpha1.JupyterLab, s *labkitv1alpha1.StoppedStatus, timeout time.Duration) string {
	since := s.Since.UTC().Format(time.RFC3339)
	switch s.Reason {
	case labkitv1alpha1.ReasonIdle:
		return fmt.Sprintf("stopped at %s: its Jupyter server had no activity for %s; labctl start %s starts it again, on the same volume", since, timeout, lab.Name)
	case labkitv1alpha1.ReasonExpired:
		return fmt.Sprintf("expired at %s; labctl extend %s --for 7d gives it more time and starts it again", since, lab.Name)
	}
	return fmt.Sprintf("stopped (spec.stopped) since %s; labctl start %s starts it again, on the same volume", since, lab.Name)
}

// untilExpiry is how long until the lab expires, if it will; for a requeue at that moment.
func untilExpiry(lab *labkitv1alpha1.JupyterLab, now time.Time) (time.Duration, bool) {
	if lab.Spec.ExpiresAt == nil || lab.Spec.Stopped {
		return 0, false
	}
	d := lab.Spec.ExpiresAt.Sub(now)
	return d, d > 0
}
