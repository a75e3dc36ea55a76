package argocd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/harness/intervals"
)

// Default named timeout of WaitForApplication.
const (
	DefaultAppSyncedTimeoutName = "wait-app-synced"
	DefaultAppSyncedTimeout     = 3 * time.Minute
)

// WaitOption configures WaitForApplication.
type WaitOption interface{ applyWait(*waitOptions) }

type waitOptions struct {
	revision    string
	timeoutName string
	timeout     time.Duration
	log         logr.Logger
}

type waitOptionFunc func(*waitOptions)

func (f waitOptionFunc) applyWait(o *waitOptions) { f(o) }

// AtRevision also waits until the Application is synced at revision (status.sync.revision), the
// commit SHA Argo CD resolved the target revision to.
func AtRevision(sha string) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.revision = sha })
}

// WaitTimeout bounds the wait; name starts the error, so that a failure says which wait ran out.
// DefaultAppSyncedTimeoutName and DefaultAppSyncedTimeout by default.
func WaitTimeout(name string, d time.Duration) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.timeoutName, o.timeout = name, d })
}

// WaitForApplication polls the Application namespace/name until it is Synced and Healthy (and at the
// AtRevision revision) and returns it. It waits through the Application not existing yet. On timeout
// the error says which of sync, health and revision are not as wanted, with Argo CD's health
// message, last operation and conditions, and wraps the context's error.
func WaitForApplication(ctx context.Context, c client.Client, namespace, name string, opts ...WaitOption) (*argocd.Application, error) {
	o := &waitOptions{timeoutName: DefaultAppSyncedTimeoutName, timeout: DefaultAppSyncedTimeout, log: logr.Discard()}
	for _, opt := range opts {
		opt.applyWait(o)
	}
	var (
		app  *argocd.Application
		last string
	)
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.timeout, true, func(context.Context) (bool, error) {
		// Not under the wait's deadline: a read in flight when it passes says what it saw (intervals.LookContext).
		look, cancel := intervals.LookContext(ctx)
		defer cancel()
		a, err := argocd.Get(look, c, namespace, name)
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			app, why = a, unmet(a, o.revision)
		}
		if why != last {
			o.log.V(1).Info("application", "namespace", namespace, "name", name, "state", why)
		}
		last = why
		return err == nil && why == "", nil
	})
	if err != nil {
		return app, fmt.Errorf("%s: application %s/%s not ready after %s: %s: %w", o.timeoutName, namespace, name, o.timeout, last, err)
	}
	return app, nil
}

// unmet says how a differs from Synced, Healthy and at revision (if not empty), with the messages
// Argo CD gives; "" when it does not.
func unmet(a *argocd.Application, revision string) string {
	s := a.Status
	var parts []string
	if s.Sync.Status != argocd.SyncStatusSynced {
		parts = append(parts, fmt.Sprintf("sync %s (want %s)", orNotReported(s.Sync.Status), argocd.SyncStatusSynced))
	}
	if s.Health.Status != argocd.HealthStatusHealthy {
		parts = append(parts, fmt.Sprintf("health %s (want %s)", orNotReported(s.Health.Status), argocd.HealthStatusHealthy))
	}
	if revision != "" && s.Sync.Revision != revision {
		parts = append(parts, fmt.Sprintf("revision %s (want %s)", orNotReported(s.Sync.Revision), revision))
	}
	if len(parts) == 0 {
		return ""
	}
	msg := strings.Join(parts, ", ")
	var details []string
	if s.Health.Message != "" {
		details = append(details, s.Health.Message)
	}
	if op := s.OperationState; op != nil && (op.Phase != "" || op.Message != "") {
		details = append(details, fmt.Sprintf("operation %s: %s", orNotReported(op.Phase), op.Message))
	}
	for _, c := range s.Conditions {
		details = append(details, c.Type+": "+c.Message)
	}
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	return msg
}

func orNotReported(s string) string {
	if s == "" {
		return "not reported"
	}
	return s
}

// Refresh asks Argo CD to compare the Application with Git at once instead of at its next
// reconciliation (argocd.Refresh).
func Refresh(ctx context.Context, c client.Client, namespace, name string) error {
	return argocd.Refresh(ctx, c, namespace, name)
}
