//go:build e2e

package e2e

import (
	"context"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"regexp"
	"testing"
	"time"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/labkit-dev/labkit/pkg/harness/apply"
	"github.com/labkit-dev/labkit/pkg/harness/skaffold"
)

// reconcileFunc is where the breakpoint goes: the controller's Reconcile.
const reconcileFunc = "github.com/labkit-dev/labkit/pkg/controller.(*JupyterLabReconciler).Reconcile"

// delvePort is what skaffold debug prints when it forwards Delve's port of the controller pod.
var delvePort = regexp.MustCompile(`Port forwarding pod/labkit-controller-\S+ in namespace labkit-system, remote port 56268 -> (?:http://)?(\S+:\d+)`)

func TestDebug(t *testing.T) {
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
			session, err := s.skaffoldIn(s.root).Start(ctx, "debug", "--port-forward", "--cleanup=false")
			if err != nil {
				t.Fatal(err)
			}
			ctx = context.WithValue(ctx, debugKey{}, debugging{session: session})
			found, err := session.WaitFor(ctx, "wait-new-pod", timeout("wait-new-pod"), 0, delvePort)
			if err != nil {
				t.Fatal(err)
			}
			return context.WithValue(ctx, debugKey{}, debugging{session: session, delve: found[1]})
		}).
		Assess("Delve stops in Reconcile for the new lab", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			s, dbg := from(ctx), ctx.Value(debugKey{}).(debugging)
			conn, err := jsonrpc.Dial("tcp", dbg.delve)
			if err != nil {
				t.Fatalf("connect to Delve at %s: %v", dbg.delve, err)
			}
			d := &delve{conn}
			defer d.detach()
			// skaffold starts the controller running (dlv --continue): stop it to set the breakpoint.
			if _, err := d.command("halt"); err != nil {
				t.Fatal(err)
			}
			id, err := d.breakAt(reconcileFunc, `req.NamespacedName.Namespace == "`+namespace(ctx)+`"`)
			if err != nil {
				t.Fatal(err)
			}
			stopped := d.c.Go("RPCServer.Command", map[string]string{"name": "continue"}, &commandOut{}, nil)

			lab, err := os.ReadFile(s.path("fixture/jupyterlab/valid-cpu.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := apply.Apply(ctx, s.client, lab, apply.WithNamespace(namespace(ctx))); err != nil {
				t.Fatal(err)
			}
			select {
			case call := <-stopped.Done:
				if call.Error != nil {
					t.Fatal(call.Error)
				}
				st := call.Reply.(*commandOut).State
				if st.CurrentThread == nil || st.CurrentThread.Breakpoint == nil || st.CurrentThread.Breakpoint.ID != id {
					t.Fatalf("Delve stopped, but not at the breakpoint in %s: %+v", reconcileFunc, st)
				}
			case <-time.After(timeout("wait-new-pod")):
				t.Fatalf("wait-new-pod: Delve did not stop in %s within %s of creating a lab", reconcileFunc, timeout("wait-new-pod"))
			}
			if err := d.clear(id); err != nil {
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
	testenv.Test(t, debug)
}

// delve is a Delve client over its JSON-RPC API (the one `dlv connect` and IDEs speak).
type delve struct{ c *rpc.Client }

type delveState struct {
	Running       bool `json:"Running"`
	CurrentThread *struct {
		Breakpoint *struct {
			ID           int    `json:"id"`
			FunctionName string `json:"functionName"`
		} `json:"breakPoint"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"currentThread"`
}

type commandOut struct{ State delveState }

func (d *delve) command(name string) (delveState, error) {
	var out commandOut
	err := d.c.Call("RPCServer.Command", map[string]string{"name": name}, &out)
	return out.State, err
}

// breakAt sets a breakpoint on function that stops only when cond (a Go expression) holds.
func (d *delve) breakAt(function, cond string) (int, error) {
	var out struct {
		Breakpoint struct {
			ID int `json:"id"`
		}
	}
	err := d.c.Call("RPCServer.CreateBreakpoint", map[string]any{"Breakpoint": map[string]any{"functionName": function, "Cond": cond}}, &out)
	return out.Breakpoint.ID, err
}

func (d *delve) clear(id int) error {
	return d.c.Call("RPCServer.ClearBreakpoint", map[string]any{"Id": id}, &struct{}{})
}

// detach lets the controller run on and disconnects, leaving Delve serving other clients.
func (d *delve) detach() {
	d.c.Go("RPCServer.Command", map[string]string{"name": "continue"}, &commandOut{}, nil)
	d.c.Close()
}
