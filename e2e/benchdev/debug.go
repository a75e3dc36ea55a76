package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The debug loop's figures: make debug from the command to a Delve client stopped in Reconcile, and,
// after each edit (skaffold debug rebuilds and redeploys), from the save to Delve attachable again
// and stopped in Reconcile again.
const (
	debugForwarded = "Delve's port forwarded"
	debugStopped   = "a client stopped in Reconcile"
)

// benchNamespace holds the lab whose reconcile the breakpoint waits for.
const benchNamespace = "bench-debug"

// runDebug times the debug loop on session, a started skaffold debug: the first stop, then edits.
func runDebug(ctx context.Context, c stack.Cluster, session *skaffold.Session, root, work string, edits int, started time.Time) (map[string][]time.Duration, error) {
	took := map[string][]time.Duration{}
	// The first build compiles every package for Delve: it has the first build's wait.
	found, err := session.WaitFor(ctx, "wait-dev-started", stack.Waits.Timeout("wait-dev-started"), 0, stack.DelvePort)
	if err != nil {
		return nil, err
	}
	took["first "+debugForwarded] = append(took["first "+debugForwarded], time.Since(started))
	if err := createLab(ctx, c, root); err != nil {
		return nil, err
	}
	defer func() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
		if err := c.Client().Delete(context.WithoutCancel(ctx), ns); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "bench-dev: delete namespace %s: %v\n", benchNamespace, err)
		}
	}()
	if err := stopInReconcile(ctx, c, found[2]); err != nil {
		return nil, err
	}
	took["first "+debugStopped] = append(took["first "+debugStopped], time.Since(started))
	fmt.Fprintf(os.Stderr, "bench-dev: make debug: Delve stopped in Reconcile %.1f s after the command\n", time.Since(started).Seconds())

	for i := range edits {
		marker := fmt.Sprintf("bench-debug-%d-%d", time.Now().Unix(), i)
		offset := len(session.Output())
		saved := time.Now()
		if err := stack.SetVersion(work, marker); err != nil {
			return nil, err
		}
		// The forward of the new pod: skaffold prints one per pod it forwards.
		var addr string
		for addr == "" {
			found, err := session.WaitFor(ctx, "wait-new-pod", stack.Waits.Timeout("wait-new-pod"), offset, stack.DelvePort)
			if err != nil {
				return nil, err
			}
			at := stack.DelvePort.FindStringIndex(session.Output()[offset:])
			offset += at[1]
			if pod, err := stack.WaitForControllerVersion(ctx, c.RESTConfig(), marker); err == nil && pod == found[1] {
				addr = found[2]
			} else if err != nil {
				return nil, err
			}
		}
		took[debugForwarded] = append(took[debugForwarded], time.Since(saved))
		if err := stopInReconcile(ctx, c, addr); err != nil {
			return nil, err
		}
		took[debugStopped] = append(took[debugStopped], time.Since(saved))
		fmt.Fprintf(os.Stderr, "bench-dev: debug edit %d: Delve stopped in Reconcile of version %s after %.1f s\n", i+1, marker, time.Since(saved).Seconds())
	}
	return took, nil
}

// benchLab is the lab of fixture/jupyterlab/valid-cpu.yaml.
const benchLab = "grace-cpu"

// createLab applies the project's CPU lab fixture in benchNamespace, whose reconciles the breakpoint
// waits for.
func createLab(ctx context.Context, c stack.Cluster, root string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}
	if err := c.Client().Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	lab, err := os.ReadFile(filepath.Join(root, "fixture", "jupyterlab", "valid-cpu.yaml"))
	if err != nil {
		return err
	}
	_, err = apply.Apply(ctx, c.Client(), lab, apply.WithNamespace(benchNamespace))
	return err
}

// stopInReconcile connects to Delve at addr, as dlv connect and IDEs do, sets a breakpoint in
// Reconcile for benchNamespace, nudges the lab there so that it is reconciled, and waits until Delve
// stops there. It then clears the breakpoint and leaves the controller running.
func stopInReconcile(ctx context.Context, c stack.Cluster, addr string) (err error) {
	var conn net.Conn
	if err := stack.Waits.Until(ctx, "wait-new-pod", func(ctx context.Context) (string, error) {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "Delve does not answer at " + addr + ": " + err.Error(), nil
		}
		return "", nil
	}); err != nil {
		return err
	}
	d := rpc2.NewClientFromConn(conn)
	defer func() { err = errors.Join(err, d.Disconnect(true)) }() // the controller runs on
	// skaffold starts the controller running (dlv --continue): stop it to set the breakpoint.
	if _, err := d.Halt(); err != nil {
		return fmt.Errorf("halt: %w", err)
	}
	bp, err := d.CreateBreakpoint(&api.Breakpoint{FunctionName: stack.ReconcileFunc, Cond: `req.NamespacedName.Namespace == "` + benchNamespace + `"`})
	if err != nil {
		return fmt.Errorf("breakpoint in Reconcile: %w", err)
	}
	states := d.Continue()
	// A new annotation is a change the controller's watch sees, so the lab is reconciled.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.labkit.dev/nudge":%q}}}`, time.Now().Format(time.RFC3339Nano))
	lab := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "labkit.dev/v1alpha1", Kind: "JupyterLab"},
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: benchLab}}
	if err := c.Client().Patch(ctx, lab, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("nudge lab %s/%s: %w", benchNamespace, lab.Name, err)
	}
	wait := stack.Waits.Timeout("wait-new-pod")
	select {
	case st, ok := <-states:
		if !ok || st == nil {
			return fmt.Errorf("delve stopped reporting before stopping in Reconcile")
		}
		if st.Err != nil {
			return st.Err
		}
		if th := st.CurrentThread; th == nil || th.Breakpoint == nil || th.Breakpoint.ID != bp.ID {
			return fmt.Errorf("delve stopped, but not at the breakpoint in Reconcile: %+v", st.CurrentThread)
		}
	case <-time.After(wait):
		return fmt.Errorf("wait-new-pod: Delve did not stop in Reconcile within %s of nudging the lab", wait)
	}
	if _, err := d.ClearBreakpoint(bp.ID); err != nil {
		return err
	}
	return nil
}
