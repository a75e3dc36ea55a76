//go:build e2e

package e2e

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// reconcileFunc is where the breakpoint goes: the controller's Reconcile.
const reconcileFunc = stack.ReconcileFunc

// debugFeature: under skaffold debug, a Delve client stops in Reconcile (TestControllerRestarts runs it).
func debugFeature() features.Feature {
	type debugKey struct{}
	type debugging struct {
		session *skaffold.Session
		delve   string // Delve's forwarded address
	}
	debug := features.New("Under skaffold debug, a Delve client connects to the controller and stops at a breakpoint in the reconciler when a lab is created").
		WithLabel(labelNeeds, needsContainers).WithLabel(labelNeeds, needsSkaffold).
		Setup(inNamespace("debug")).
		Setup(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s := from(ctx)
			// --cleanup=false: stopping must not delete the CRD, and with it every lab.
			session, err := s.cluster.Skaffold().Start(ctx, "debug", "--port-forward", "--cleanup=false")
			if err != nil {
				t.Fatal(err)
			}
			ctx = context.WithValue(ctx, debugKey{}, debugging{session: session})
			// The session's first build compiles every package for Delve: it has the first build's wait.
			found, err := session.WaitFor(ctx, "wait-dev-started", timeout("wait-dev-started"), 0, stack.DelvePort)
			if err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, debugKey{}, debugging{session: session, delve: found[2]})
		}).
		Assess("Delve stops in Reconcile for the new lab, reads its name and GPU count, steps and continues", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, dbg := from(ctx), ctx.Value(debugKey{}).(debugging)
			conn, err := net.DialTimeout("tcp", dbg.delve, 30*time.Second)
			if err != nil {
				t.Fatalf("connect to Delve at %s: %v", dbg.delve, err)
			}
			// Delve's own client, as dlv connect and IDEs use it.
			d := rpc2.NewClientFromConn(conn)
			defer func() {
				if err := d.Disconnect(true); err != nil { // the controller runs on
					t.Error(err)
				}
			}()
			// skaffold starts the controller running (dlv --continue): stop it to set the breakpoints.
			if _, err := d.Halt(); err != nil {
				t.Fatal(err)
			}
			ns := namespace(ctx)
			reconcile, err := d.CreateBreakpoint(&api.Breakpoint{FunctionName: reconcileFunc, Cond: `req.NamespacedName.Namespace == "` + ns + `"`})
			if err != nil {
				t.Fatal(err)
			}
			stopped := d.Continue()
			lab, err := os.ReadFile(s.path("fixture/jupyterlab/valid-gpu.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := apply.Apply(ctx, s.client, lab, apply.WithNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			at := stoppedAt(t, stopped, reconcile.ID, reconcileFunc)
			if got := eval(t, d, at, "req.NamespacedName.Name"); got != `"ada-a100"` {
				t.Errorf("req.NamespacedName.Name in Reconcile = %s, want the new lab's name", got)
			}
			// A step over the line it stopped at stays in Reconcile, on a later line.
			next, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if th := next.CurrentThread; th == nil || th.Function == nil || th.Function.Name() != reconcileFunc || th.Line <= at.Line {
				t.Errorf("after next: %+v; want Reconcile past line %d", th, at.Line)
			}
			// Where the lab is at hand: its children are made from its spec.
			if _, err := d.ClearBreakpoint(reconcile.ID); err != nil {
				t.Fatal(err)
			}
			children, err := d.CreateBreakpoint(&api.Breakpoint{FunctionName: ensureChildrenFunc, Cond: `lab.ObjectMeta.Namespace == "` + ns + `"`})
			if err != nil {
				t.Fatal(err)
			}
			at = stoppedAt(t, d.Continue(), children.ID, ensureChildrenFunc)
			if got := eval(t, d, at, "lab.Spec.GPU.Count"); got != "1" {
				t.Errorf("lab.Spec.GPU.Count = %s, want valid-gpu.yaml's 1", got)
			}
			if _, err := d.ClearBreakpoint(children.ID); err != nil {
				t.Error(err)
			}
			return ctx
		}).
		Teardown(func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if dbg, ok := ctx.Value(debugKey{}).(debugging); ok {
				if err := dbg.session.Stop(ctx); err != nil {
					t.Error(err)
				}
			}
			restoreController(ctx, t)
			return ctx
		}).
		Teardown(deleteNamespace()).
		Feature()
	return debug
}

// ensureChildrenFunc makes a lab's children from its spec.
const ensureChildrenFunc = "github.com/labkit-dev/labkit/pkg/controller.(*JupyterLabReconciler).ensureChildren"

// stoppedAt waits until Delve, continued, stops at breakpoint id in function, and returns where.
func stoppedAt(t *testing.T, states <-chan *api.DebuggerState, id int, function string) *api.Thread {
	t.Helper()
	select {
	case st, ok := <-states:
		if !ok || st == nil {
			t.Fatalf("Delve stopped reporting before stopping in %s", function)
		}
		if st.Err != nil {
			t.Fatal(st.Err)
		}
		if th := st.CurrentThread; th == nil || th.Breakpoint == nil || th.Breakpoint.ID != id {
			t.Fatalf("Delve stopped, but not at the breakpoint in %s: %+v", function, st.CurrentThread)
		}
		return st.CurrentThread
	case <-time.After(timeout("wait-new-pod")):
		t.Fatalf("wait-new-pod: Delve did not stop in %s within %s of creating a lab", function, timeout("wait-new-pod"))
	}
	return nil
}

// eval is the value of expr in the goroutine Delve stopped in, as Delve prints it.
func eval(t *testing.T, d *rpc2.RPCClient, at *api.Thread, expr string) string {
	t.Helper()
	v, err := d.EvalVariable(api.EvalScope{GoroutineID: at.GoroutineID}, expr, api.LoadConfig{FollowPointers: true, MaxVariableRecurse: 1, MaxStringLen: 256})
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v.SinglelineString()
}
