// Package open is `labctl open`: wait for a lab, then give its URL, through its ingress or a port-forward.
package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/labstatus"
	"github.com/labkit-dev/labkit/pkg/portforward"
)

type flagpole struct {
	namespace     string
	portForward   bool
	port          int
	browser       bool
	timeout       time.Duration
	argoNamespace string
}

// NewCommand returns `labctl open`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "open NAME",
		Short: "Wait until a lab is ready, then print its URL; without an ingress, forward a local port to it until Ctrl-C",
		Long: "labctl open waits until the lab is ready, printing each step, then prints the address to open in a\n" +
			"browser. A lab with an external URL (an ingress) is given by that URL. Otherwise, or with --port-forward,\n" +
			"labctl forwards a port of 127.0.0.1 to the lab through the cluster's API server (no kubectl needed)\n" +
			"and keeps it open until Ctrl-C.",
		Example: `  labctl open ada-a100
  labctl open ada-a100 --port-forward --port 8888 --browser`,
		Args: shared.ExactlyOneArg("NAME", "the lab to open, e.g. `labctl open ada-a100`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, err := g.Namespace(flags.namespace)
			if err != nil {
				return err
			}
			return run(cmd.Context(), g, streams, flags, ns, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&flags.namespace, "namespace", "n", "", "namespace of the lab (default: the profile's, else jupyter)")
	f.BoolVar(&flags.portForward, "port-forward", false, "forward a local port even when the lab has an external URL")
	f.IntVar(&flags.port, "port", 0, "local port of the forward (default: a free one)")
	f.BoolVar(&flags.browser, "browser", false, "open the URL in the web browser")
	f.DurationVar(&flags.timeout, "timeout", 10*time.Minute, "how long to wait for the lab to be ready")
	f.StringVar(&flags.argoNamespace, "argocd-namespace", "argocd", "namespace of Argo CD's Applications")
	return cmd
}

func run(ctx context.Context, g *shared.Globals, streams shared.Streams, flags *flagpole, ns, name string) error {
	src := g.Sources(shared.RepoFlags{ArgoNamespace: flags.argoNamespace})
	if src.Cluster == nil {
		return src.ClusterErr
	}
	progress := labstatus.WithProgress(func(line string) { fmt.Fprintln(streams.Out, line) })
	waitCtx, cancel := context.WithTimeout(ctx, flags.timeout)
	defer cancel()
	st, err := labstatus.Wait(waitCtx, src, ns, name, progress)
	if err != nil {
		return err
	}
	if l := st.Lab; !flags.portForward && l.URL != "" && l.URL != l.InternalURL {
		// Through the ingress: wait until it routes the lab.
		if err := labstatus.CheckJupyter(ctx, l.URL); err != nil {
			fmt.Fprintf(streams.Out, "note: %s does not answer from here yet (%v); labctl open --port-forward reaches the lab without the ingress\n", l.URL, err)
		}
		return show(ctx, streams, flags, l.URL)
	}
	fwd, err := portforward.ForwardService(ctx, src.Config, ns, serviceName(st), 8888, portforward.WithLocalPort(flags.port))
	if err != nil {
		return err
	}
	local := "http://" + fwd.Address + "/"
	fmt.Fprintf(streams.Out, "forwarding %s to lab %s/%s (pod %s); Ctrl-C to stop\n", local, ns, name, fwd.Pod)
	if err := show(ctx, streams, flags, local); err != nil {
		return err
	}
	select {
	case err := <-fwd.Done:
		if err == nil || errors.Is(err, context.Canceled) {
			return nil
		}
		return fmt.Errorf("%w; the lab's pod may have restarted or stopped: run labctl open %s again", err, name)
	case <-ctx.Done():
		<-fwd.Done
		return nil
	}
}

func show(ctx context.Context, streams shared.Streams, flags *flagpole, u string) error {
	fmt.Fprintf(streams.Out, "open %s\n", u)
	if flags.browser {
		return shared.OpenBrowser(ctx, u)
	}
	return nil
}

// serviceName is the Service of the lab's in-cluster URL (http://<service>.<namespace>.svc...), which
// the controller names after the lab.
func serviceName(st *labstatus.Status) string {
	if u, err := url.Parse(st.Lab.InternalURL); err == nil && u.Hostname() != "" {
		return strings.SplitN(u.Hostname(), ".", 2)[0]
	}
	return st.Name
}
