package labkitharness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
	"github.com/labkit-dev/labkit/pkg/harness/kindcluster"
	"github.com/labkit-dev/labkit/pkg/internal/exec"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// The demo: a cluster of its own beside the e2e one, its ingress on another host port, and a Git
// server in a container on the kind network, so that it outlives `make demo`.
const (
	demoCluster     = "labkit-demo"
	demoIngressPort = 38090
	demoGit         = "labkit-demo-git" // container and volume; Argo CD reaches it by this name
	demoGitPort     = 8080              // in the container
	demoGitHostPort = 38418             // on 127.0.0.1 of the host, where labctl pushes
	demoLab         = "demo-a100"
	demoNamespace   = "jupyter"
	// gitImage has git, which the Git server runs (git http-backend); up.sh and `docker pull` provide it.
	gitImage = "golang:1.26"
)

type demoFlagpole struct {
	root   string
	binary string
}

// newDemoCommand is `demo up|down`.
func newDemoCommand(log logr.Logger, out io.Writer) *cobra.Command {
	flags := &demoFlagpole{}
	demo := &cobra.Command{Use: "demo", Short: "Bring up labkit end to end with one lab to open in a browser (make demo), or take it down"}
	up := &cobra.Command{
		Use:   "up",
		Short: "Cluster, controller, Argo CD, ingress and a Git server; then request a lab with labctl and print its URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demoUp(cmd.Context(), flags, log, out)
		},
	}
	up.Flags().StringVar(&flags.root, "root", ".", "the labkit checkout: kind-config.yaml, skaffold.yaml, bin/")
	up.Flags().StringVar(&flags.binary, "git-server-binary", "bin/linux/labkit-harness",
		"a labkit-harness built for Linux, which serves Git in the demo's container")
	down := &cobra.Command{
		Use:   "down",
		Short: "Delete the demo's cluster, its Git server and the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demoDown(cmd.Context(), log, out)
		},
	}
	demo.AddCommand(up, down)
	return demo
}

func demoUp(ctx context.Context, flags *demoFlagpole, log logr.Logger, out io.Writer) error {
	root, err := filepath.Abs(flags.root)
	if err != nil {
		return err
	}
	step := func(what string, start time.Time) {
		fmt.Fprintf(out, "%-70s %6.1fs\n", what, time.Since(start).Seconds())
	}
	k, err := stack.UpKind(ctx, stack.KindOptions{Root: root, Name: demoCluster, IngressHostPort: demoIngressPort,
		Log: log, Output: io.Discard, Step: step})
	if err != nil {
		if k != nil && k.Cluster != nil {
			fmt.Fprintf(out, "the cluster %s stays for a look; make demo-down deletes it\n", demoCluster)
		}
		return err
	}
	start := time.Now()
	if err := startGitServer(ctx, filepath.Join(root, flags.binary)); err != nil {
		return err
	}
	pushURL := fmt.Sprintf("http://127.0.0.1:%d/%s.git", demoGitHostPort, stack.RepoName)
	argoURL := fmt.Sprintf("http://%s:%d/%s.git", demoGit, demoGitPort, stack.RepoName)
	pub, _, err := stack.SeedGitOps(ctx, k.Client, pushURL, argoURL, true)
	if err != nil {
		return fmt.Errorf("%w (is %s reachable from the cluster's pods as %s?)", err, demoGit, argoURL)
	}
	step("Git server "+demoGit+" up, root Application synced", start)

	password, err := demoPassword()
	if err != nil {
		return err
	}
	labs, err := pub.List(ctx)
	if err != nil {
		return err
	}
	exists := false
	for _, l := range labs {
		exists = exists || (l.Namespace == demoNamespace && l.Name == demoLab)
	}
	common := []string{"--kubeconfig", k.Cluster.Kubeconfig, "--profile", filepath.Join(os.TempDir(), "labkit-demo-no-profile.yaml")}
	var args []string
	if exists {
		args = append([]string{"open", demoLab, "-n", demoNamespace}, common...)
	} else {
		args = append([]string{"create", demoLab, "-n", demoNamespace, "--owner", "demo", "--gpu", "A100:1", "--cpu", "500m",
			"--memory", "1Gi", "--storage", "1Gi",
			// The stand-in Jupyter image has no JupyterLab; this serves the classic Notebook UI there and
			// Notebook 7 in the real images.
			"--env", "DOCKER_STACKS_JUPYTER_CMD=notebook",
			"--password-stdin", "--repo", pushURL, "--repo-url", argoURL, "--wait"}, common...)
	}
	fmt.Fprintf(out, "\n$ bin/labctl %s\n", strings.Join(args, " "))
	cmd := labctl.NewCommand(logr.Discard(), labctl.Streams{In: strings.NewReader(password + "\n"), Out: out, ErrOut: out})
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nlog in with the password %s\nbin/labctl status %s -n %s --kubeconfig %s --repo %s shows it all; make demo-down removes the demo\n",
		password, demoLab, demoNamespace, k.Cluster.Kubeconfig, pushURL)
	return nil
}

// startGitServer runs the demo's Git server in a container on the kind network, unless it runs already,
// and waits until it answers.
func startGitServer(ctx context.Context, binary string) error {
	running, err := docker(ctx, "container", "inspect", "--format", "{{.State.Running}}", demoGit)
	if err != nil || strings.TrimSpace(running) != "true" {
		if _, err := os.Stat(binary); err != nil {
			return fmt.Errorf("the demo's Git server runs %s, a labkit-harness built for Linux: %w; make demo builds it", binary, err)
		}
		_, _ = docker(ctx, "rm", "--force", demoGit) // a stopped one from before; its repository is in the volume
		if _, err := docker(ctx, "create", "--name", demoGit,
			"--network", "kind", // where the cluster's nodes are, so Argo CD finds it by name
			"--restart", "unless-stopped",
			"--publish", fmt.Sprintf("127.0.0.1:%d:%d", demoGitHostPort, demoGitPort), // for labctl on this machine
			"--volume", demoGit+":/srv/git",
			gitImage, "/usr/local/bin/labkit-harness", "git", "serve", "--root", "/srv/git",
			"--address", "0.0.0.0:"+strconv.Itoa(demoGitPort), "--url-host", demoGit, "--repo", stack.RepoName); err != nil {
			return err
		}
		if _, err := docker(ctx, "cp", binary, demoGit+":/usr/local/bin/labkit-harness"); err != nil {
			return err
		}
		if _, err := docker(ctx, "start", demoGit); err != nil {
			return err
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/%s.git", demoGitHostPort, stack.RepoName)
	var last error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, last = exec.Command(ctx, "git", "ls-remote", url).Output()
		return last == nil, nil
	})
	if err != nil {
		logs, _ := docker(ctx, "logs", "--tail", "20", demoGit)
		return fmt.Errorf("wait-demo-git: the Git server at %s did not answer within a minute: %v\n%s", url, last, logs)
	}
	return nil
}

// demoPassword is the demo lab's password, made once and kept in the cache.
func demoPassword() (string, error) {
	path, err := demoPasswordFile()
	if err != nil {
		return "", err
	}
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	password := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return password, os.WriteFile(path, []byte(password+"\n"), 0o600)
}

func demoPasswordFile() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "labkit", "demo", "password"), nil
}

func demoDown(ctx context.Context, log logr.Logger, out io.Writer) error {
	var errs []error
	if ok, err := kindcluster.Exists(demoCluster); err != nil {
		errs = append(errs, err)
	} else if ok {
		c, err := kindcluster.Get(demoCluster, kindcluster.WithLogger(log))
		if err == nil {
			err = c.Down()
		}
		errs = append(errs, err)
	}
	for _, args := range [][]string{{"rm", "--force", demoGit}, {"volume", "rm", "--force", demoGit}} {
		if _, err := docker(ctx, args...); err != nil {
			errs = append(errs, err)
		}
	}
	if path, err := demoPasswordFile(); err == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo removed: cluster %s, Git server and repository %s\n", demoCluster, demoGit)
	return nil
}

func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.Command(ctx, "docker", args...).Output()
	return string(out), err
}

type gitServeFlagpole struct {
	root, address, urlHost string
	repos                  []string
}

// newGitCommand is `git serve`: the Git server of the demo's container.
func newGitCommand(log logr.Logger, out io.Writer) *cobra.Command {
	flags := &gitServeFlagpole{}
	git := &cobra.Command{Use: "git", Short: "Serve Git repositories over HTTP (the demo's Git server)"}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the bare repositories of a folder, with no authentication, until stopped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []gitserver.Option{gitserver.WithRoot(flags.root), gitserver.WithAddress(flags.address), gitserver.WithLogger(log)}
			if flags.urlHost != "" {
				opts = append(opts, gitserver.WithURLHost(flags.urlHost))
			}
			s, err := gitserver.Start(cmd.Context(), opts...)
			if err != nil {
				return err
			}
			for _, r := range flags.repos {
				url, err := s.CreateRepo(r)
				if err != nil {
					return errors.Join(err, s.Close())
				}
				fmt.Fprintf(out, "serving %s\n", url)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return s.Close()
		},
	}
	serve.Flags().StringVar(&flags.root, "root", "", "folder of the bare repositories (<name>.git)")
	serve.Flags().StringVar(&flags.address, "address", "127.0.0.1:8080", "address to listen on")
	serve.Flags().StringVar(&flags.urlHost, "url-host", "", "host name clients reach the server by, when listening on every address")
	serve.Flags().StringSliceVar(&flags.repos, "repo", nil, "repositories to create if missing")
	git.AddCommand(serve)
	return git
}
