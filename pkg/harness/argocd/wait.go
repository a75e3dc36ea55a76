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
	includes    Includes // nil: revision exactly
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

// Includes says whether revision, a commit Argo CD synced at, is commit or comes after it; a Publisher's
// Includes (pkg/generator) reads that from the branch.
type Includes func(ctx context.Context, commit, revision string) (bool, error)

// AtOrAfterRevision waits, as AtRevision does, until the Application is synced at sha or at a later
// commit that includes it, as includes says: what to wait for when others push to the branch too.
func AtOrAfterRevision(sha string, includes Includes) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.revision, o.includes = sha, includes })
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
		app     *argocd.Application
		last    string
		checked revisionCheck
	)
	err := wait.PollUntilContextTimeout(ctx, pollInterval, o.timeout, true, func(context.Context) (bool, error) {
		// Not under the wait's deadline: a read in flight when it passes says what it saw (intervals.LookContext).
		look, cancel := intervals.LookContext(ctx)
		defer cancel()
		a, err := argocd.Get(look, c, namespace, name)
		why := ""
		if err == nil {
			err = checked.see(look, o, a.Status.Sync.Revision)
		}
		if err != nil {
			why = err.Error()
		} else {
			app, why = a, unmet(a, checked.wanted(o.revision))
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

// revisionCheck remembers whether the last revision an Application was seen at includes the one
// waited for, so that includes runs once a revision.
type revisionCheck struct {
	revision string
	includes bool
}

// see checks revision when it is new and o waits for a commit or later.
func (r *revisionCheck) see(ctx context.Context, o *waitOptions, revision string) error {
	if o.includes == nil || o.revision == "" || revision == "" || revision == r.revision {
		return nil
	}
	ok, err := o.includes(ctx, o.revision, revision)
	if err != nil {
		return fmt.Errorf("whether revision %s includes %s: %w", revision, o.revision, err)
	}
	r.revision, r.includes = revision, ok
	return nil
}

// wanted is the revision unmet compares with: the one seen when it includes revision.
func (r *revisionCheck) wanted(revision string) string {
	if r.includes && r.revision != "" {
		return r.revision
	}
	return revision
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
