package labkitcontroller

import (
	"fmt"
	"time"

	"k8s.io/client-go/tools/leaderelection"
)

// The leader election timings' defaults: controller-runtime's own.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// The flags that set them.
const (
	flagLeaseDuration = "leader-elect-lease-duration"
	flagRenewDeadline = "leader-elect-renew-deadline"
	flagRetryPeriod   = "leader-elect-retry-period"
)

// lease is how the controller's replicas elect a leader: a replica that is not the leader takes the
// Lease once it has not seen it renewed for duration; the leader retries renewing it every retry and
// gives up leading when it has not managed for renewDeadline.
type lease struct {
	duration, renewDeadline, retry time.Duration
}

// check refuses timings that client-go's leader election would refuse, or would read otherwise than
// given, naming the flag and what it accepts. A replica that is not the leader waits up to duration
// plus a retry or two after the leader died, so duration is the handover time of a crash.
func (l lease) check() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{flagLeaseDuration, l.duration}, {flagRenewDeadline, l.renewDeadline}, {flagRetryPeriod, l.retry}} {
		if f.d <= 0 {
			return fmt.Errorf("--%s=%s: give a duration greater than 0, e.g. %s", f.name, f.d, map[string]time.Duration{
				flagLeaseDuration: DefaultLeaseDuration, flagRenewDeadline: DefaultRenewDeadline, flagRetryPeriod: DefaultRetryPeriod}[f.name])
		}
	}
	// The Lease records its duration in whole seconds (spec.leaseDurationSeconds), and that is what the
	// other replicas wait for: 2.5s would be 2s to them.
	if l.duration%time.Second != 0 {
		return fmt.Errorf("--%s=%s: give a whole number of seconds, e.g. %s: the Lease records it in seconds, and the other replicas wait that long",
			flagLeaseDuration, l.duration, max(l.duration.Round(time.Second), time.Second))
	}
	if l.renewDeadline >= l.duration {
		return fmt.Errorf("--%s=%s must be less than --%s=%s: the leader must give up leading before the others may take the Lease",
			flagRenewDeadline, l.renewDeadline, flagLeaseDuration, l.duration)
	}
	// client-go's leader election refuses less (leaderelection.NewLeaderElector), so that the leader
	// can retry renewing within the deadline.
	if limit := time.Duration(leaderelection.JitterFactor * float64(l.retry)); l.renewDeadline <= limit {
		return fmt.Errorf("--%s=%s must be more than %.1f times --%s=%s, i.e. more than %s: the leader must be able to retry renewing the Lease before the deadline",
			flagRenewDeadline, l.renewDeadline, leaderelection.JitterFactor, flagRetryPeriod, l.retry, limit)
	}
	return nil
}
