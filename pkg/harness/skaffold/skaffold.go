package skaffold

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// Skaffold runs one project's skaffold.yaml against one cluster.
type Skaffold struct {
	binary      string
	dir         string
	kubeconfig  string
	kubeContext string
	path        []string
	defaultRepo string
	out         io.Writer
	log         logr.Logger
}

// Option configures New.
type Option interface{ apply(*Skaffold) }

type optionFunc func(*Skaffold)

func (f optionFunc) apply(s *Skaffold) { f(s) }

// WithBinary is the skaffold executable; default "skaffold" from PATH.
func WithBinary(path string) Option { return optionFunc(func(s *Skaffold) { s.binary = path }) }

// WithDir is the folder of skaffold.yaml; default the current one.
func WithDir(dir string) Option { return optionFunc(func(s *Skaffold) { s.dir = dir }) }

// WithCluster is the kubeconfig file and context skaffold deploys to. A context named kind-* makes
// skaffold load the images it builds with `kind load`.
func WithCluster(kubeconfig, kubeContext string) Option {
	return optionFunc(func(s *Skaffold) { s.kubeconfig, s.kubeContext = kubeconfig, kubeContext })
}

// WithDefaultRepo names the images skaffold builds for the registry repo (skaffold --default-repo),
// e.g. a kind cluster's local registry, localhost:5001. Where a profile pushes (skaffold.yaml's dev
// profile), the cluster then pulls them from there instead of skaffold loading them into every node.
func WithDefaultRepo(repo string) Option {
	return optionFunc(func(s *Skaffold) { s.defaultRepo = repo })
}

// WithPath puts folders before PATH for skaffold and the tools it runs (docker, kind, kubectl).
func WithPath(dirs ...string) Option {
	return optionFunc(func(s *Skaffold) { s.path = append(s.path, dirs...) })
}

// WithOutput copies everything skaffold prints to w (e.g. os.Stderr, or a log file).
func WithOutput(w io.Writer) Option { return optionFunc(func(s *Skaffold) { s.out = w }) }

// WithLogger sets the logger.
func WithLogger(l logr.Logger) Option { return optionFunc(func(s *Skaffold) { s.log = l }) }

// PruneEnv turns skaffold's artifact cache off, which turns its pruning on. With the Docker engine's
// own builder (skaffold.yaml: useBuildkit false, as there may be no buildx), skaffold otherwise keeps
// every build's intermediate containers: about 1 GB for each e2e run. Docker's layer cache still
// makes an unchanged build take seconds.
const PruneEnv = "SKAFFOLD_CACHE_ARTIFACTS=false"

// New returns a Skaffold.
func New(opts ...Option) *Skaffold {
	s := &Skaffold{binary: "skaffold", out: io.Discard, log: logr.Discard()}
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// In is the same skaffold, cluster and registry for the project in dir instead: e.g. a copy of the
// project whose sources a test edits.
func (s *Skaffold) In(dir string) *Skaffold {
	c := *s
	c.dir = dir
	c.path = slices.Clone(s.path)
	return &c
}

func (s *Skaffold) command(ctx context.Context, verb string, args []string) *exec.Cmd {
	argv := []string{verb}
	if s.kubeContext != "" {
		argv = append(argv, "--kube-context", s.kubeContext)
	}
	if s.defaultRepo != "" {
		argv = append(argv, "--default-repo", s.defaultRepo)
	}
	cmd := exec.Command(ctx, s.binary, append(argv, args...)...)
	cmd.Dir = s.dir
	cmd.Env = []string{"SKAFFOLD_UPDATE_CHECK=false", "SKAFFOLD_INTERACTIVE=false", PruneEnv}
	if s.kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+s.kubeconfig)
	}
	if len(s.path) > 0 {
		cmd.Env = append(cmd.Env, "PATH="+strings.Join(append(s.path, os.Getenv("PATH")), string(filepath.ListSeparator)))
	}
	return cmd
}

// Run runs `skaffold run args...`: build, load, deploy, and wait until the deployments are ready.
func (s *Skaffold) Run(ctx context.Context, args ...string) error {
	var out bytes.Buffer
	p, err := s.command(ctx, "run", args).Start(io.MultiWriter(&out, s.out), 30*time.Second)
	if err != nil {
		return err
	}
	if err := p.Wait(); err != nil {
		return fmt.Errorf("skaffold run: %w\n%s", err, tail(out.String()))
	}
	return nil
}

// Session is a long-running `skaffold dev` or `skaffold debug`.
type Session struct {
	proc *exec.Process
	mu   sync.Mutex
	out  bytes.Buffer
	copy io.Writer
}

func (ss *Session) Write(p []byte) (int, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.out.Write(p)
	return ss.copy.Write(p)
}

// Output is everything skaffold printed so far.
func (ss *Session) Output() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.out.String()
}

// Start starts `skaffold dev` or `skaffold debug` (verb) with args. It runs until ctx is done or Stop.
func (s *Skaffold) Start(ctx context.Context, verb string, args ...string) (*Session, error) {
	ss := &Session{copy: s.out}
	p, err := s.command(ctx, verb, args).Start(ss, 60*time.Second)
	if err != nil {
		return nil, err
	}
	ss.proc = p
	return ss, nil
}

// WaitFor waits until skaffold has printed a line matching re after offset bytes of output (use
// len(Output()) taken before the action that makes skaffold print it), and returns the submatches.
// It fails at once if skaffold exits, and after timeout with the name and the output's tail.
func (ss *Session) WaitFor(ctx context.Context, name string, timeout time.Duration, offset int, re *regexp.Regexp) ([]string, error) {
	var found []string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		select {
		case <-ss.proc.Done():
			return false, fmt.Errorf("skaffold exited: %v", ss.proc.Wait())
		default:
		}
		out := ss.Output()
		if offset > len(out) {
			offset = len(out)
		}
		found = re.FindStringSubmatch(out[offset:])
		return found != nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: waiting for skaffold to print %q: %w\n%s", name, re, err, tail(ss.Output()))
	}
	return found, nil
}

// Stop stops skaffold with SIGTERM, on which it deletes what it deployed unless --cleanup=false, and
// waits for it to exit.
func (ss *Session) Stop(ctx context.Context) error {
	select {
	case <-ss.proc.Done():
		return nil
	default:
	}
	return ss.proc.Stop(ctx)
}

func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
