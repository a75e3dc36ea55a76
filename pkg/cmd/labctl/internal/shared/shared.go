package shared

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/exec"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

// Streams are a command's input and outputs.
type Streams struct {
	In          io.Reader
	Out, ErrOut io.Writer
}

// Globals are the root command's flags.
type Globals struct {
	Kubeconfig string
	Profile    string
	Logger     logr.Logger
}

// LoadProfile reads the profile the --profile flag names.
func (g *Globals) LoadProfile() (generator.Profile, error) {
	return generator.LoadProfile(g.Profile)
}

// Catalog reads the catalog from a file, or else from the cluster of the kubeconfig.
func (g *Globals) Catalog(ctx context.Context, file string) (*catalog.Catalog, error) {
	if file != "" {
		return catalog.Load(file)
	}
	c, err := g.Client()
	if clientcmd.IsEmptyConfig(err) {
		return nil, errors.New("no cluster to check the request against: labctl reads what the nodes offer from the cluster of a kubeconfig " +
			"(--kubeconfig FILE, $KUBECONFIG or ~/.kube/config) and found none; give one, or --catalog FILE for an offline list of the nodes " +
			"(labctl nodes -o yaml writes one), or --skip-catalog to check nothing")
	}
	if err != nil {
		return nil, fmt.Errorf("read the catalog from the cluster: %w; pass --catalog FILE for an offline catalog", err)
	}
	cat, err := catalog.FromCluster(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("read the catalog from the cluster: %w; pass --catalog FILE for an offline catalog", err)
	}
	return cat, nil
}

// StorageClasses are the names of the storage classes of the kubeconfig's cluster, sorted, and the
// default one ("" if none is marked so).
func (g *Globals) StorageClasses(ctx context.Context) ([]string, string, error) {
	c, err := g.Client()
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a choice to offer, not worth a long wait
	defer cancel()
	list := &storagev1.StorageClassList{}
	if err := c.List(ctx, list); err != nil {
		return nil, "", err
	}
	var names []string
	def := ""
	for _, sc := range list.Items {
		names = append(names, sc.Name)
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			def = sc.Name
		}
	}
	slices.Sort(names)
	return names, def, nil
}

// RESTConfig is the kubeconfig's cluster (--kubeconfig, else $KUBECONFIG, else ~/.kube/config).
func (g *Globals) RESTConfig() (*rest.Config, error) {
	if g.Kubeconfig != "" {
		if _, err := os.Stat(g.Kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: no such file; give the file kubectl would use, usually ~/.kube/config", g.Kubeconfig)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = g.Kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

// Client is a client of the kubeconfig's cluster for Kubernetes' and labkit's types.
func (g *Globals) Client() (client.Client, error) {
	cfg, err := g.RESTConfig()
	if err != nil {
		return nil, err
	}
	return newClient(cfg)
}

func newClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := labkitv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// Sources are where labctl sees labs: the branch the repository flags (or the profile) name, and the
// kubeconfig's cluster. What is missing is said in the Sources, not returned as an error: labctl
// status shows what it can.
func (g *Globals) Sources(repo RepoFlags) labstatus.Sources {
	src := labstatus.Sources{ArgoNamespace: repo.ArgoNamespace}
	src.Git, src.GitErr = repo.Publisher(g)
	cfg, err := g.RESTConfig()
	if err == nil {
		src.Config = cfg
		src.Cluster, err = newClient(cfg)
	}
	switch {
	case clientcmd.IsEmptyConfig(err):
		src.ClusterErr = errors.New("no cluster to look at: labctl reads it from a kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config) and found none")
	case err != nil:
		src.ClusterErr = fmt.Errorf("no cluster to look at (%w): labctl reads it from --kubeconfig, $KUBECONFIG or ~/.kube/config", err)
	}
	return src
}

// RepoFlags say where labs are published, and how the branch is used (docs/gitops-layout.md).
type RepoFlags struct {
	Repo, Branch, RepoURL, ArgoNamespace string
	// Track is the branch Argo CD follows, when Branch is a proposal to merge into it.
	Track string
	// Environment: the branch is an environment of its own, with its own root Application.
	Environment bool
	// Layout is the layout of a namespace's first lab (BindLayout); empty follows the branch.
	Layout string
}

// BindLayout adds --layout, for the commands that write a namespace's first Application.
func (r *RepoFlags) BindLayout(f *pflag.FlagSet) {
	f.StringVar(&r.Layout, "layout", "", `how Argo CD gets the labs of a namespace that has none yet: "lab", one Application per lab (each lab's sync shown on its own), or "namespace", one for the whole namespace (much faster for hundreds of labs); a namespace with labs keeps its own (default lab)`)
}

// Bind adds the repository flags.
func (r *RepoFlags) Bind(f *pflag.FlagSet) {
	f.StringVar(&r.Repo, "repo", "", "Git remote to push to (URL or path); credentials come from the SSH agent or LABKIT_GIT_USERNAME/LABKIT_GIT_TOKEN")
	f.StringVar(&r.Branch, "branch", "", "branch to push to (default main)")
	f.StringVar(&r.RepoURL, "repo-url", "", "the repository's URL as Argo CD reaches it (default: --repo)")
	f.StringVar(&r.ArgoNamespace, "argocd-namespace", "argocd", "namespace of Argo CD's Applications")
	f.StringVar(&r.Track, "track", "", "the `BRANCH` Argo CD follows, when --branch is a proposal to merge into it (a pull request): the lab's Application names BRANCH, so it keeps working once --branch is merged and deleted (default: --branch)")
	f.BoolVar(&r.Environment, "environment", false, "the branch is an environment of its own: its labs' Applications carry its name and one root Application per branch syncs apps/<branch>/, so that any number of branches coexist on one Argo CD (labctl root-app prints it)")
}

// Target is the push remote and branch, and where Argo CD finds the labs, from the flags or else the
// profile. A branch that is both a proposal (--track another) and an environment is refused.
func (r *RepoFlags) Target(p generator.Profile) (remote, branch string, t generator.Target, err error) {
	if remote = cmp.Or(r.Repo, p.Repo); remote != "" {
		// as git reads it, and so as the Applications name it when no --repo-url says otherwise
		if remote, err = gitops.AbsRemote(remote); err != nil {
			return "", "", t, err
		}
	}
	branch = cmp.Or(r.Branch, p.Branch, "main")
	t = generator.Target{RepoURL: cmp.Or(r.RepoURL, p.RepoURL, remote), Revision: cmp.Or(r.Track, p.Track, branch), ArgoNamespace: r.ArgoNamespace}
	if r.Layout != "" {
		if t.Layout, err = generator.ParseLayout("--layout", r.Layout); err != nil {
			return "", "", t, err
		}
	}
	if r.Environment || p.Environment {
		if t.Revision != branch {
			return "", "", t, fmt.Errorf("--environment and --track %s: a branch is either an environment Argo CD follows itself, or a proposal to merge into %s, not both", t.Revision, t.Revision)
		}
		t.Environment = generator.EnvironmentOf(branch)
	}
	return remote, branch, t, nil
}

// Publisher opens the repository the flags, or else the saved profile, name.
func (r *RepoFlags) Publisher(g *Globals) (*generator.Publisher, error) {
	p, err := g.LoadProfile()
	if err != nil {
		return nil, err
	}
	remote, branch, target, err := r.Target(p)
	if err != nil {
		return nil, err
	}
	if remote == "" {
		return nil, fmt.Errorf("no Git repository: pass --repo URL or save one with `labctl profile save --repo URL`")
	}
	repo, err := gitops.New(remote, branch, gitops.WithLogger(g.Logger))
	if err != nil {
		return nil, err
	}
	return &generator.Publisher{Repo: repo, Target: target}, nil
}

// FirstArg is args[0], or "" when there is none.
func FirstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// RequestFlags are a lab request as flags.
type RequestFlags struct {
	File          string
	Req           generator.Request
	PasswordStdin bool
	Catalog       string
	SkipCatalog   bool
	// Ask, when set, asks the person for what the flags, spec file and profile leave out.
	Ask *Asker
}

// Bind adds the request flags: generator.RequestFields, with their defaults, and those a command
// binds itself.
func (r *RequestFlags) Bind(f *pflag.FlagSet) {
	f.StringVarP(&r.File, "file", "f", "", "spec file (YAML with name, owner, gpu, cpu, memory, storage, ...); flags override it")
	for _, field := range generator.RequestFields {
		usage := field.Usage
		if field.Value != nil {
			if def := *field.Value(&generator.Defaults); def != "" {
				usage += " (default " + def + ")"
			}
			f.StringVarP(field.Value(&r.Req), field.Flag, shorthands[field.Flag], "", usage)
		} else {
			f.StringArrayVar(field.Values(&r.Req), field.Flag, nil, usage)
		}
	}
	BindExpiry(f, &r.Req.For, &r.Req.Until)
	f.BoolVar(&r.PasswordStdin, "password-stdin", false, "read the login password from stdin; only its argon2 hash is written")
	f.StringVar(&r.Catalog, "catalog", "", "catalog file to check the request against (default: read the cluster)")
	f.BoolVar(&r.SkipCatalog, "skip-catalog", false, "do not check the request against what the nodes offer")
}

// shorthands are the one-letter forms of request flags, as the other commands have them.
var shorthands = map[string]string{"namespace": "n"}

// Complete registers the shell completion of the request flags: GPU models from the catalog.
func (r *RequestFlags) Complete(cmd *cobra.Command, g *Globals) {
	_ = cmd.RegisterFlagCompletionFunc("gpu", g.CompleteGPUs(&r.Catalog))
}

// BindExpiry adds --for and --until, which say when a lab expires (generator.Expiry reads them).
func BindExpiry(f *pflag.FlagSet, forValue, until *string) {
	f.StringVar(forValue, "for", "", "stop the lab this long from now, a `DURATION` such as 14d, 36h or 2w (d: days, w: weeks); or --until")
	f.StringVar(until, "until", "", "stop the lab at this `DATE`: a day such as 2026-12-24, meaning its end (23:59:59 UTC), or an RFC 3339 time such as 2026-12-24T18:00:00+01:00")
}

// Lab resolves the request of the flags, the spec file, the profile, the person's answers (with Ask)
// and the defaults into the checked JupyterLab: generator.Resolver, fed from the command line. The
// error lists every problem at once, with those of also (what else the command needs).
func (r *RequestFlags) Lab(ctx context.Context, g *Globals, name string, in io.Reader, also ...error) (*labkitv1alpha1.JupyterLab, error) {
	profile, err := g.LoadProfile()
	if err != nil {
		return nil, err
	}
	res := generator.Resolver{
		File: r.File, Profile: profile, ProfilePath: g.Profile,
		ReadPassword: r.PasswordStdin, Password: func(lab string) ([]byte, error) { return readPassword(in, lab) },
	}
	if !r.SkipCatalog {
		res.Catalog = func() (*catalog.Catalog, error) { return g.Catalog(ctx, r.Catalog) }
	}
	if r.Ask != nil {
		res.Ask = r.Ask
	}
	given := r.Req
	given.Name = name
	return res.Lab(given, also...)
}

// Namespace is the --namespace flag, else the profile's namespace, else the default.
func (g *Globals) Namespace(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	p, err := g.LoadProfile()
	if err != nil {
		return "", err
	}
	return cmp.Or(p.Namespace, generator.Defaults.Namespace), nil
}

// OpenBrowser opens url in the person's web browser: $BROWSER if set, else the desktop's opener.
func OpenBrowser(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name, args := "xdg-open", []string{url}
	switch {
	case os.Getenv("BROWSER") != "":
		name = os.Getenv("BROWSER")
	case goruntime.GOOS == "darwin":
		name = "open"
	case goruntime.GOOS == "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	}
	if err := exec.Command(ctx, name, args...).Run(); err != nil {
		return fmt.Errorf("open %s in a browser: %w; open it by hand", url, err)
	}
	return nil
}

// ExactlyOneArg is cobra.ExactArgs(1) with a message that names the argument and what it is, e.g.
// "labctl open needs NAME, the lab to open, e.g. `labctl open ada-a100`".
func ExactlyOneArg(name, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s needs %s, %s", cmd.CommandPath(), name, what)
		case len(args) > 1:
			return fmt.Errorf("%s takes one %s, got %d: %s", cmd.CommandPath(), name, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// BindNamespace adds -n/--namespace, the namespace of the lab a command acts on (see Globals.Namespace).
func BindNamespace(f *pflag.FlagSet, ns *string) {
	f.StringVarP(ns, "namespace", "n", "", "namespace of the lab (default: the profile's, else "+generator.Defaults.Namespace+")")
}

// Short is a commit's abbreviated id, as people quote it.
func Short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

// Holds says what a running lab holds of the cluster: "1× NVIDIA-A100-SXM4-40GB", or for a lab without
// GPUs "8 CPU and 32Gi memory".
func Holds(lab *labkitv1alpha1.JupyterLab) string {
	if lab.GPUCount() > 0 {
		return fmt.Sprintf("%d× %s", lab.GPUCount(), lab.Spec.GPU.Product)
	}
	r := lab.Spec.Resources
	return fmt.Sprintf("%s CPU and %s memory", r.CPU.String(), r.Memory.String())
}

// AtMostOneArg is cobra.MaximumNArgs(1) with a message that names the argument and what it is.
func AtMostOneArg(name, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 1 {
			return fmt.Errorf("%s takes at most one %s, %s; got %d: %s", cmd.CommandPath(), name, what, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// FlagError explains a flag cobra could not parse: an unknown flag is told the flags of the command
// it is most likely a misspelling of, and where to see them all.
func FlagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name, unknown := strings.CutPrefix(msg, "unknown flag: --")
	if !unknown {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	}
	name, _, _ = strings.Cut(name, "=")
	var near []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (distance(name, f.Name) <= max(1, len(name)/4) || strings.HasPrefix(f.Name, name) || strings.HasPrefix(name, f.Name)) {
			near = append(near, "--"+f.Name)
		}
	})
	if len(near) == 0 {
		return fmt.Errorf("%s has no flag --%s (see %s --help)", cmd.CommandPath(), name, cmd.CommandPath())
	}
	return fmt.Errorf("%s has no flag --%s: did you mean %s? (see %s --help)", cmd.CommandPath(), name, strings.Join(near, " or "), cmd.CommandPath())
}

// distance is the edit distance of a and b, a swap of two neighbours counting as one edit (optimal
// string alignment), as misspellings are.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// CompleteLabs completes a lab's name from those on the branch the repository flags (or the profile)
// name, for shell completion.
func (g *Globals) CompleteLabs(repo *RepoFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		pub, err := repo.Publisher(g)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		labs, err := pub.List(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, l := range labs {
			if strings.HasPrefix(l.Name, toComplete) {
				names = append(names, cobra.CompletionWithDesc(l.Name, l.Namespace+", "+Holds(l)))
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteGPUs completes --gpu with the GPU models of the catalog (the file *catalogFile names, else
// the cluster), each as MODEL:1 with its free GPUs.
func (g *Globals) CompleteGPUs(catalogFile *string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cat, err := g.Catalog(cmd.Context(), *catalogFile)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out := []cobra.Completion{cobra.CompletionWithDesc("none", "a lab without GPUs")}
		for _, o := range cat.Offers() {
			if strings.HasPrefix(strings.ToLower(o.Product), strings.ToLower(toComplete)) {
				out = append(out, cobra.CompletionWithDesc(o.Product+":1", fmt.Sprintf("%d free", o.Free)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// ChangeFlags are the flags of a command that commits a change to one lab on the branch: -n, the
// repository flags, --dry-run and, for a change that has something to wait for, --wait.
type ChangeFlags struct {
	Namespace string
	Repo      RepoFlags
	DryRun    bool
	Wait      WaitFlags
}

// Bind adds the flags to cmd, and the completion of its NAME; waitUntil is what --wait waits for,
// "" for a command without --wait.
func (c *ChangeFlags) Bind(cmd *cobra.Command, g *Globals, waitUntil string) {
	BindNamespace(cmd.Flags(), &c.Namespace)
	c.Repo.Bind(cmd.Flags())
	cmd.Flags().BoolVar(&c.DryRun, "dry-run", false, "print the diff the commit would make and push nothing")
	if waitUntil != "" {
		c.Wait.Bind(cmd.Flags(), waitUntil)
	}
	cmd.ValidArgsFunction = g.CompleteLabs(&c.Repo)
}

// Open is the lab's namespace and the publisher of the branch, refusing --wait on a proposal before
// anything is committed.
func (c *ChangeFlags) Open(g *Globals) (string, *generator.Publisher, error) {
	ns, err := g.Namespace(c.Namespace)
	if err != nil {
		return "", nil, err
	}
	pub, err := c.Repo.Publisher(g)
	if err != nil {
		return "", nil, err
	}
	if err := c.Wait.Check(pub); err != nil {
		return "", nil, err
	}
	return ns, pub, nil
}
