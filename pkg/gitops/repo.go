package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// ErrNoChanges is returned by Commit and DryRun when the changes leave the branch as it is.
var ErrNoChanges = errors.New("the changes leave the branch as it is")

// Repo is a branch of a Git remote that changes are committed and pushed to.
// A Repo holds no clone: each call works in a temporary one it removes before returning.
type Repo struct {
	remote     string
	branch     string
	author     [2]string // name, email
	log        logr.Logger
	maxRetries int
	workDir    string
	extraEnv   []string // from WithEnv
	env        []string // what every git command gets on top of os.Environ()
}

// Result is the outcome of a Commit.
type Result struct {
	Commit   string // id of the pushed commit
	Attempts int    // 1, plus one for every push rejected because the branch moved meanwhile
	// NewBranch says that the push created the branch; it started from the commit of From, the
	// remote's default branch ("" for the first commit of an empty remote).
	NewBranch bool
	From      string
}

// Option configures a Repo.
type Option interface{ apply(*Repo) error }

type optionFunc func(*Repo) error

func (f optionFunc) apply(r *Repo) error { return f(r) }

// WithAuthor sets the author and committer of commits; the default is "labctl <labctl@labkit.dev>".
func WithAuthor(name, email string) Option {
	return optionFunc(func(r *Repo) error {
		if name == "" || email == "" {
			return fmt.Errorf("author %q <%s> needs both a name and an email", name, email)
		}
		r.author = [2]string{name, email}
		return nil
	})
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(log logr.Logger) Option {
	return optionFunc(func(r *Repo) error {
		r.log = log
		return nil
	})
}

// WithMaxRetries sets how many times Commit starts again after a push rejected because others pushed meanwhile; the default is 5.
func WithMaxRetries(n int) Option {
	return optionFunc(func(r *Repo) error {
		if n < 0 {
			return fmt.Errorf("max retries %d is negative: use 0 to never retry", n)
		}
		r.maxRetries = n
		return nil
	})
}

// WithWorkDir sets the directory temporary clones are made in; the default is os.TempDir().
func WithWorkDir(parent string) Option {
	return optionFunc(func(r *Repo) error {
		if parent == "" {
			return errors.New("work directory is empty: give a directory for temporary clones")
		}
		r.workDir = parent
		return nil
	})
}

// WithEnv adds KEY=value entries to the environment of every git command, after os.Environ() and the author and
// GIT_TERMINAL_PROMPT=0 that Repo sets, for example GIT_CONFIG_GLOBAL=/dev/null and GIT_CONFIG_NOSYSTEM=1 to ignore
// the user's git configuration.
func WithEnv(kv ...string) Option {
	return optionFunc(func(r *Repo) error {
		for _, e := range kv {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				return fmt.Errorf("environment entry %q is not KEY=value", e)
			}
		}
		r.extraEnv = append(r.extraEnv, kv...)
		return nil
	})
}

// credentialHelper is a git credential helper that answers "get" with LABKIT_GIT_USERNAME (default x-access-token,
// which GitHub and GitLab accept with a token) and LABKIT_GIT_PASSWORD or else LABKIT_GIT_TOKEN, read from the
// environment when git asks, so the secret is never on a command line or on disk.
const credentialHelper = `!f() { test "$1" != get || printf 'username=%s\npassword=%s\n' "${LABKIT_GIT_USERNAME:-x-access-token}" "${LABKIT_GIT_PASSWORD:-$LABKIT_GIT_TOKEN}"; }; f`

// New returns the Repo for branch of remote (a URL or a path git understands). The branch need not exist yet.
// Credentials come from the environment: an SSH agent, git credential helpers, or LABKIT_GIT_USERNAME with
// LABKIT_GIT_PASSWORD or LABKIT_GIT_TOKEN for HTTP(S) remotes.
func New(remote, branch string, opts ...Option) (*Repo, error) {
	r := &Repo{
		remote:     remote,
		branch:     branch,
		author:     [2]string{"labctl", "labctl@labkit.dev"},
		log:        logr.Discard(),
		maxRetries: 5,
		workDir:    os.TempDir(),
	}
	for _, o := range opts {
		if err := o.apply(r); err != nil {
			return nil, err
		}
	}
	if err := checkRemote(remote); err != nil {
		return nil, err
	}
	// git runs in a temporary directory, so a relative path would be relative to that.
	if abs, err := AbsRemote(remote); err != nil {
		return nil, err
	} else {
		r.remote = abs
	}
	r.env = append([]string{
		"GIT_TERMINAL_PROMPT=0", // fail instead of waiting for a username or password nobody will type
		"GIT_AUTHOR_NAME=" + r.author[0], "GIT_AUTHOR_EMAIL=" + r.author[1],
		"GIT_COMMITTER_NAME=" + r.author[0], "GIT_COMMITTER_EMAIL=" + r.author[1],
	}, r.extraEnv...)
	if isHTTP(remote) && (r.getenv("LABKIT_GIT_PASSWORD") != "" || r.getenv("LABKIT_GIT_TOKEN") != "") {
		// Configuration through the environment, as "git -c" would give it, but without the helper in every
		// command line of every error message. Entries after the caller's own GIT_CONFIG_* ones keep those.
		n, _ := strconv.Atoi(r.getenv("GIT_CONFIG_COUNT"))
		r.env = append(r.env,
			// an empty helper drops those configured so far, so LABKIT_GIT_* wins
			fmt.Sprintf("GIT_CONFIG_KEY_%d=credential.helper", n), fmt.Sprintf("GIT_CONFIG_VALUE_%d=", n),
			fmt.Sprintf("GIT_CONFIG_KEY_%d=credential.helper", n+1), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", n+1, credentialHelper),
			fmt.Sprintf("GIT_CONFIG_COUNT=%d", n+2),
		)
	}
	if err := checkBranch(branch, r.env); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckBranch refuses a name git does not accept for a branch.
func CheckBranch(branch string) error { return checkBranch(branch, nil) }

func checkBranch(branch string, env []string) error {
	check := &git{ctx: context.Background(), env: env} // local and instant: no context to honour
	if _, err := check.output(nil, "check-ref-format", "--branch", branch); err != nil {
		var exitErr *osexec.ExitError
		if errors.As(err, &exitErr) {
			return fmt.Errorf("invalid branch name %q: use a name git accepts, such as \"labs/team-a\" (see git help check-ref-format)", branch)
		}
		return fmt.Errorf("check branch name %q: %w", branch, err)
	}
	return nil
}

// CheckRemote refuses what New would refuse as a remote: a remote git would take for an option, and
// a URL that embeds a password.
func CheckRemote(remote string) error { return checkRemote(remote) }

// checkRemote refuses remotes git would take for an option and URLs that embed a password.
func checkRemote(remote string) error {
	if remote == "" || strings.HasPrefix(remote, "-") {
		return fmt.Errorf("invalid remote %q: give a URL or path, such as https://github.com/org/gitops.git", remote)
	}
	if !strings.Contains(remote, "://") {
		return nil // a path or an scp-like address (git@host:repo), which has no room for a password
	}
	u, err := url.Parse(remote)
	if err != nil {
		return fmt.Errorf("invalid remote URL: %w", err)
	}
	if _, ok := u.User.Password(); ok {
		return fmt.Errorf("remote %q embeds a password: remove it from the URL and set LABKIT_GIT_PASSWORD or LABKIT_GIT_TOKEN, or use an SSH remote with an SSH agent", u.Redacted())
	}
	return nil
}

// AbsRemote returns remote with a relative local path made absolute against the current directory, as
// git resolves it; URLs and scp-like addresses (host:path) are returned as they are. git takes a
// remote for an scp-like address when a colon comes before any slash, so "./a:b" is a path.
func AbsRemote(remote string) (string, error) {
	if remote == "" {
		return "", errors.New("no remote: give a URL or path, such as https://github.com/org/gitops.git")
	}
	colon, slash := strings.Index(remote, ":"), strings.Index(remote, "/")
	switch {
	case strings.Contains(remote, "://"), colon > 0 && (slash < 0 || colon < slash), filepath.IsAbs(remote):
		return remote, nil
	}
	abs, err := filepath.Abs(remote)
	if err != nil {
		return "", fmt.Errorf("remote %q: %w", remote, err)
	}
	return abs, nil
}

func isHTTP(remote string) bool {
	l := strings.ToLower(remote)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Remote is the remote the Repo pushes to, as given to New (a relative path made absolute).
func (r *Repo) Remote() string { return r.remote }

// Branch is the branch the Repo reads and pushes to.
func (r *Repo) Branch() string { return r.branch }

// getenv returns the value git commands see for key: the last WithEnv entry for it, else the process environment.
func (r *Repo) getenv(key string) string {
	for _, kv := range slices.Backward(r.extraEnv) {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return os.Getenv(key)
}

// PrepareFunc returns the changes to make to the files of tree, or an error to abort with nothing pushed.
// Commit calls it again on the new tip after a push rejected because others pushed meanwhile,
// so it should check its preconditions against tree every time.
type PrepareFunc func(tree *Tree) ([]Change, error)

// Commit applies the changes prepare returns on top of the branch tip, commits them with message and pushes the
// commit to the branch, or pushes nothing if any step fails. A branch missing on the remote starts from the
// remote's default branch, or as the first commit of an empty remote. Errors from prepare are returned as they are;
// ErrNoChanges when the changes leave the branch as it is.
func (r *Repo) Commit(ctx context.Context, message string, prepare PrepareFunc) (Result, error) {
	if strings.TrimSpace(message) == "" {
		return Result{}, errors.New("commit message is empty: say what the change does")
	}
	var res Result
	err := r.withClone(ctx, func(g *git) error {
		for res.Attempts = 1; ; res.Attempts++ {
			t, tree, err := r.stage(g, prepare)
			if err != nil {
				return err
			}
			if res.Commit, err = t.commit(tree, message); err != nil {
				return err
			}
			rejected, err := r.push(g, t, res.Commit)
			switch {
			case !rejected:
				if !t.exists {
					res.NewBranch, res.From = true, t.head
				}
				return err
			case res.Attempts > r.maxRetries:
				return fmt.Errorf("push to branch %q of %s: gave up after %d attempts, each rejected because someone else pushed to the branch meanwhile; try again later", r.branch, r.remote, res.Attempts)
			}
			r.log.Info("push rejected because the branch moved, trying again on its new tip", "branch", r.branch, "attempt", res.Attempts)
		}
	})
	if err != nil {
		return Result{}, err
	}
	r.log.V(1).Info("pushed", "branch", r.branch, "commit", res.Commit, "attempts", res.Attempts)
	return res, nil
}

// DryRun does what Commit would up to the commit and returns the diff it would make, in git diff format.
func (r *Repo) DryRun(ctx context.Context, prepare PrepareFunc) (string, error) {
	var diff string
	err := r.withClone(ctx, func(g *git) error {
		t, tree, err := r.stage(g, prepare)
		if err == nil {
			diff, err = t.diff(tree)
		}
		return err
	})
	return diff, err
}

// View calls fn with the files at the branch tip (or where Commit would start the branch if it does not exist yet).
// The Tree is valid only until fn returns; errors from fn are returned as they are.
func (r *Repo) View(ctx context.Context, fn func(tree *Tree) error) error {
	return r.withClone(ctx, func(g *git) error {
		t, err := r.fetch(g)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

// stage fetches the tip, asks prepare for changes and stages them; it returns the view prepare saw and the new tree.
func (r *Repo) stage(g *git, prepare PrepareFunc) (*Tree, string, error) {
	t, err := r.fetch(g)
	if err != nil {
		return nil, "", err
	}
	changes, err := prepare(t)
	if err != nil {
		return nil, "", err
	}
	tree, err := t.apply(changes)
	if err != nil {
		return nil, "", err
	}
	if tree == t.id {
		return nil, "", ErrNoChanges
	}
	return t, tree, nil
}

// withClone runs fn with an empty repository in a new temporary directory, removed afterwards whatever happens.
func (r *Repo) withClone(ctx context.Context, fn func(g *git) error) error {
	dir, err := os.MkdirTemp(r.workDir, "labkit-gitops-")
	if err != nil {
		return fmt.Errorf("create temporary clone: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			r.log.Error(err, "remove temporary clone", "dir", dir)
		}
	}()
	gitDir := filepath.Join(dir, ".git")
	g := &git{ctx: ctx, dir: dir, env: append(slices.Clip(r.env),
		// this repository, whatever a git hook that runs us exported (a pre-commit hook exports GIT_INDEX_FILE)
		"GIT_DIR="+gitDir, "GIT_WORK_TREE="+dir, "GIT_INDEX_FILE="+filepath.Join(gitDir, "index"), "GIT_OBJECT_DIRECTORY="+filepath.Join(gitDir, "objects"),
	)}
	if _, err := g.output(nil, "init", "--quiet"); err != nil {
		return fmt.Errorf("create temporary clone: %w", err)
	}
	return fn(g)
}
