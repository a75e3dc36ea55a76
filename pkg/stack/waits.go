package stack

import (
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
)

// Waits are every named wait of the stack, the e2e suite and the benchmarks, in one table
// (cluster-api keeps its intervals so). Generous: a loaded 2-core machine. The e2e suite's
// -interval-scale and -intervals flags stretch them for a slower one.
var Waits = intervals.Table{
	// Set-up.
	"wait-nodes-ready":        {Timeout: 3 * time.Minute, Poll: time.Second},
	"wait-controller-started": {Timeout: time.Minute, Poll: 100 * time.Millisecond}, // a controller on the host
	"wait-argocd-ready":       {Timeout: 5 * time.Minute, Poll: time.Second},
	"wait-app-synced":         {Timeout: 3 * time.Minute, Poll: time.Second},
	// A lab and its children.
	"wait-lab-ready":         {Timeout: 3 * time.Minute, Poll: time.Second},
	"wait-lab-unschedulable": {Timeout: 3 * time.Minute, Poll: time.Second},
	"wait-lab-stopped":       {Timeout: 3 * time.Minute, Poll: 500 * time.Millisecond},
	"wait-restored":          {Timeout: time.Minute, Poll: 250 * time.Millisecond},
	"wait-gone":              {Timeout: 3 * time.Minute, Poll: 250 * time.Millisecond},
	"wait-app-reconciled":    {Timeout: 2 * time.Minute, Poll: 500 * time.Millisecond}, // several Argo CD reconciliations (every 5 s in the suite)
	// labctl's own waits (its --timeout).
	"wait-labctl": {Timeout: 5 * time.Minute, Poll: time.Second},
	// A new controller pod: skaffold's redeploys, Delve.
	"wait-new-pod": {Timeout: 4 * time.Minute, Poll: 250 * time.Millisecond},
	// A new controller holding the lease and through every lab its start queued.
	"wait-controller-caught-up": {Timeout: 3 * time.Minute, Poll: 500 * time.Millisecond},
	// skaffold dev's first build and deploy: on a new machine its host build compiles every dependency
	// of the controller once (Go's cache then keeps them).
	"wait-dev-started": {Timeout: 12 * time.Minute, Poll: 250 * time.Millisecond},
	// The benchmarks.
	"wait-labs-ready": {Timeout: 25 * time.Minute, Poll: time.Second},
	"wait-verdict":    {Timeout: 2 * time.Minute, Poll: 250 * time.Millisecond},
	// An informer's first list, before the change it is to time is made.
	"wait-watch-synced": {Timeout: time.Minute, Poll: 50 * time.Millisecond},
	// Leader election (bench-failover): a replica leads, the Lease's holder matched to the process whose
	// metrics say it leads; a replica (re)started beside the leader takes part; the other replica takes
	// a killed leader's Lease, a lease duration and a retry or two later. Polls short: they are timed.
	"wait-leader":      {Timeout: 2 * time.Minute, Poll: 100 * time.Millisecond},
	"wait-follower":    {Timeout: 2 * time.Minute, Poll: 100 * time.Millisecond},
	"wait-lease-taken": {Timeout: 2 * time.Minute, Poll: 100 * time.Millisecond},
}
