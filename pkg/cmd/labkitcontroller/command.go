package labkitcontroller

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/controller"
)

type flagpole struct {
	metricsAddr    string
	probeAddr      string
	pprofAddr      string
	leaderElect    bool
	leaderElectNS  string
	lease          lease
	concurrency    int
	kubeAPIQPS     float32
	kubeAPIBurst   int
	zapDevelopment bool
	settings       string
	watchNS        []string
	jupyterURL     string
	statusSettle   time.Duration
	memoryLimit    string
}

// LeaderElectionID names the controller's leader election Lease; the manifests' leader election Role
// grants get and update on this name only.
const LeaderElectionID = "labkit-controller.labkit.dev"

// surroundings are what the command takes from outside its flags; tests replace them.
type surroundings struct {
	// config is where the API server is and who the controller is there.
	config func() (*rest.Config, error)
	// logs receives the log; stderr when nil.
	logs io.Writer
	// controllerOpts are more options for the controller.
	controllerOpts []controller.Option
}

// NewCommand returns the labkit-controller command.
func NewCommand() *cobra.Command {
	return newCommand(surroundings{config: ctrl.GetConfig})
}

func newCommand(env surroundings) *cobra.Command {
	flags := &flagpole{}
	zapOpts := &zap.Options{DestWriter: env.logs}
	cmd := &cobra.Command{
		Use:           "labkit-controller",
		Short:         "Reconciles JupyterLab resources into the workloads that run them",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(zapOpts)))
			return run(cmd, flags, env)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.metricsAddr, "metrics-bind-address", "0", "address the metrics endpoint binds to, e.g. :8080; 0 disables it")
	f.StringVar(&flags.probeAddr, "health-probe-bind-address", ":8081", "address the /healthz and /readyz endpoints bind to")
	f.StringVar(&flags.pprofAddr, "pprof-bind-address", "0", "address Go's profiles (/debug/pprof/) bind to, e.g. 127.0.0.1:6060, to see where memory or CPU goes; 0 disables them")
	f.BoolVar(&flags.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles at a time")
	f.StringVar(&flags.leaderElectNS, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's own)")
	f.DurationVar(&flags.lease.duration, flagLeaseDuration, DefaultLeaseDuration,
		"with --leader-elect: how long the other replicas wait, after the leader last renewed its Lease, before one takes it; a crashed leader's labs wait that long (whole seconds)")
	f.DurationVar(&flags.lease.renewDeadline, flagRenewDeadline, DefaultRenewDeadline,
		"with --leader-elect: how long the leader keeps trying to renew its Lease before it stops leading; less than the lease duration")
	f.DurationVar(&flags.lease.retry, flagRetryPeriod, DefaultRetryPeriod,
		"with --leader-elect: how often the replicas try to take or renew the Lease; the renew deadline must be more than 1.2 times it")
	// A new lab's reconcile is about six requests one after the other, so the workers wait on the API
	// server far more than they compute: on kind, 4 of them made 1,000 labs' children at 3.7 labs a
	// second at 5% of a core. With 16, 1,000 labs through the API were Ready in 110.3 s against 139.2 s
	// with 4, one run each, one after the other, on the local provider (bench-scale).
	f.IntVar(&flags.concurrency, "max-concurrent-reconciles", 16, "how many labs are reconciled at once")
	// A new lab costs about 7.3 writes (four children, three status writes), so at 100 a second the
	// controller keeps up with a thousand labs made at once about as fast as the control plane runs
	// them (make bench-scale); the API server's priority and fairness still guards it.
	f.Float32Var(&flags.kubeAPIQPS, "kube-api-qps", 100, "steady requests per second to the API server")
	f.IntVar(&flags.kubeAPIBurst, "kube-api-burst", 200, "request burst to the API server")
	f.DurationVar(&flags.statusSettle, "status-settle", controller.DefaultStatusSettle,
		"how long a change to a lab's status that nobody needs at once (a message, a volume bound while the pod waits for a node) may wait to be written with the next one; the phase and problems are written at once; 0 writes every change at once")
	f.StringVar(&flags.memoryLimit, flagMemoryLimit, "",
		"the memory the controller may use, e.g. 192Mi: Go's garbage collector works harder (collects more often, for more CPU) to keep the memory Go manages to 90% of that, leaving the rest for the program's own code, about 30Mi of its RSS; default: the container's memory limit, if any, unless GOMEMLIMIT is set")
	f.StringVar(&flags.settings, "settings", controller.DefaultSettings.String(),
		"NAMESPACE/NAME of the ConfigMap with the controller's cluster-wide settings (ingress.domain, ingress.className, ...); read live, a missing one means the defaults")
	f.StringSliceVar(&flags.watchNS, "watch-namespaces", nil,
		"the only namespaces whose labs are reconciled, e.g. team-a,team-b; the controller then lists and watches nothing cluster-wide and needs the ClusterRole bound in these namespaces only (labctl manifests --watch-namespaces); empty: every namespace")
	f.StringVar(&flags.jupyterURL, "jupyter-url-override", "",
		"for benchmarks and tests only: read every lab's activity from the Jupyter server at this URL instead of the lab's own")
	_ = f.MarkHidden("jupyter-url-override")
	goFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(goFlags)
	f.AddGoFlagSet(goFlags)
	return cmd
}

func run(cmd *cobra.Command, flags *flagpole, env surroundings) error {
	setup := ctrl.Log.WithName("setup")
	setup.Info("Starting labkit-controller", "version", version)
	switch limit, ok, err := softMemoryLimit(flags.memoryLimit, os.Getenv, cgroupMemoryMax); {
	case err != nil && flags.memoryLimit != "":
		return err
	case err != nil: // the controller runs as well without; it is only killed sooner at scale
		setup.Error(err, "Go's garbage collector is not held under the container's memory limit")
	case ok:
		debug.SetMemoryLimit(limit)
		setup.Info("Go's garbage collector works harder near the memory limit", "softMemoryLimitMiB", limit>>20)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := labkitv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	for _, ns := range flags.watchNS {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return fmt.Errorf("--watch-namespaces %q: %q is not a namespace name (%s): give names separated by commas, e.g. team-a,team-b",
				strings.Join(flags.watchNS, ","), ns, strings.Join(msgs, "; "))
		}
	}
	if err := flags.lease.check(); err != nil {
		return err
	}
	if flags.statusSettle < 0 {
		return fmt.Errorf("--status-settle=%s: give a duration of 0 or more, e.g. %s; 0 writes every change to a lab's status at once",
			flags.statusSettle, controller.DefaultStatusSettle)
	}
	cfg, err := env.config()
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = flags.kubeAPIQPS, flags.kubeAPIBurst
	ns, name, ok := strings.Cut(flags.settings, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("--settings %q: give the settings ConfigMap as NAMESPACE/NAME, e.g. %s", flags.settings, controller.DefaultSettings)
	}
	settings := types.NamespacedName{Namespace: ns, Name: name}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controller.CacheOptions(settings, flags.watchNS...),
		Metrics:                 metricsserver.Options{BindAddress: flags.metricsAddr},
		HealthProbeBindAddress:  flags.probeAddr,
		PprofBindAddress:        flags.pprofAddr,
		LeaderElection:          flags.leaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: flags.leaderElectNS,
		LeaseDuration:           &flags.lease.duration,
		RenewDeadline:           &flags.lease.renewDeadline,
		RetryPeriod:             &flags.lease.retry,
		// The process exits right after the manager stops, so the lease can be handed over at once.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	r := &controller.JupyterLabReconciler{
		Client:    mgr.GetClient(),
		Scheme:    scheme,
		Recorder:  mgr.GetEventRecorder("labkit-controller"),
		Settings:  settings,
		APIReader: mgr.GetAPIReader(),
		// The reconciler's zero is its default; the flag's 0 is none.
		StatusSettle: cmp.Or(flags.statusSettle, -1),
	}
	if u := flags.jupyterURL; u != "" {
		r.Activity = controller.JupyterActivity{BaseURL: func(*labkitv1alpha1.JupyterLab) string { return u }}
	}
	opts := append([]controller.Option{controller.WithMaxConcurrentReconciles(flags.concurrency)}, env.controllerOpts...)
	if err := r.SetupWithManager(mgr, opts...); err != nil {
		return fmt.Errorf("set up controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(cmd.Context())
}
