package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// DefaultStatusSettle is how long a status change that nobody needs at once may wait for the next one.
//
// A new lab's pod is made, waits for a node and gets its volume in steps a fraction of a second to a
// few seconds apart; written one by one they cost a lab four or five status writes on its way to Ready,
// as many as the four children it is made of. Waiting lets one write carry the detail with the change
// a person waits for (Starting, Ready), and costs that person nothing: what they read, the phase and
// anything that went wrong, is written at once.
const DefaultStatusSettle = 5 * time.Second

// settle is how long the change from lab's status to st may still wait before it is written: 0 when it
// is to be written now (or there is no change). A change that can wait (canWait) waits from the first
// reconcile that sees it, for at most StatusSettle, and then goes in the next write, whichever comes
// first: the one a change that cannot wait makes, or the one the reconcile after StatusSettle makes.
func (r *JupyterLabReconciler) settle(lab *labkitv1alpha1.JupyterLab, st labkitv1alpha1.JupyterLabStatus) time.Duration {
	limit := r.StatusSettle
	if limit == 0 {
		limit = DefaultStatusSettle
	}
	if limit < 0 || !canWait(lab.Status, st) {
		return 0
	}
	now := r.clock()
	since, _ := r.settling.LoadOrStore(client.ObjectKeyFromObject(lab), now)
	return max(limit-now.Sub(since.(time.Time)), 0)
}

func (r *JupyterLabReconciler) clock() time.Time {
	if r.now == nil {
		return time.Now()
	}
	return r.now()
}

// canWait says whether the change from old to new is only detail: everything but the conditions stays
// (the phase, the node, the URLs, the generation acted on, why the lab is stopped, since when it is
// idle), no condition that was True is True no longer, and something does change. A reason or
// message that moves while the phase holds can wait, and so can a condition coming right, such as the
// volume bound while the pod waits for a node. A problem cannot: it either changes the phase
// (Unschedulable, Failed) or takes a condition from True.
func canWait(old, new labkitv1alpha1.JupyterLabStatus) bool {
	if equality.Semantic.DeepEqual(old, new) {
		return false
	}
	o, n := *old.DeepCopy(), *new.DeepCopy()
	o.Conditions, n.Conditions = nil, nil
	if !equality.Semantic.DeepEqual(o, n) {
		return false
	}
	for _, c := range old.Conditions {
		if c.Status == metav1.ConditionTrue && !meta.IsStatusConditionTrue(new.Conditions, c.Type) {
			return false
		}
	}
	return true
}
