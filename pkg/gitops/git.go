package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// git runs git commands for one call of a Repo, in its temporary repository.
type git struct {
	ctx context.Context
	dir string
	env []string
}

func (g *git) command(stdin io.Reader, args ...string) *exec.Cmd {
	c := exec.Command(g.ctx, "git", args...)
	c.Dir = g.dir
	c.Env = g.env
	c.Stdin = stdin
	return c
}

// output runs a git command and returns its stdout without the final newline.
func (g *git) output(stdin io.Reader, args ...string) (string, error) {
	out, err := g.command(stdin, args...).Output()
	return strings.TrimSuffix(string(out), "\n"), err
}

// fetch fetches the commit the branch is at, or else the remote's default branch it would start from,
// or nothing when the remote has no commits at all, and returns a view of its files.
func (r *Repo) fetch(g *git) (*Tree, error) {
	// --symref: also "ref: refs/heads/main\tHEAD", the branch a new one starts from
	out, err := g.output(nil, "ls-remote", "--symref", r.remote, "HEAD", "refs/heads/*")
	if err != nil {
		return nil, fmt.Errorf("list branches of %s: %w", r.remote, r.explainLogin(err))
	}
	var head bool
	t := &Tree{g: g, blobs: map[string]string{}, remote: r.remote}
	for line := range strings.Lines(out) {
		id, ref, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if target, ok := strings.CutPrefix(id, "ref: "); ok {
			if ref == "HEAD" {
				t.head = strings.TrimPrefix(target, "refs/heads/")
			}
			continue
		}
		head = head || ref == "HEAD"
		if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			t.branches = append(t.branches, name)
		}
		t.exists = t.exists || ref == "refs/heads/"+r.branch
	}
	slices.Sort(t.branches)
	from := "refs/heads/" + r.branch
	switch {
	case t.exists:
		t.head = r.branch
	case head:
		from = "HEAD"
	case len(t.branches) > 0:
		return nil, fmt.Errorf("branch %q does not exist on %s and the remote's HEAD names no existing branch to start it from: push the branch first or point HEAD at the default branch", r.branch, r.remote)
	default: // an empty remote: the first commit has no parent and starts from the empty tree
		if t.id, err = g.output(nil, "mktree"); err != nil {
			return nil, fmt.Errorf("create empty tree: %w", err)
		}
		return t, nil
	}
	t.from = from
	// --depth 1: committing on top of the tip needs only the tip
	if _, err := g.output(nil, "fetch", "--quiet", "--no-tags", "--depth", "1", r.remote, from); err != nil {
		return nil, fmt.Errorf("fetch %s of %s: %w", from, r.remote, err)
	}
	if out, err = g.output(nil, "rev-parse", "FETCH_HEAD^{commit}", "FETCH_HEAD^{tree}"); err != nil {
		return nil, fmt.Errorf("resolve fetched %s: %w", from, err)
	}
	t.tip, t.id, _ = strings.Cut(out, "\n")
	// -z: paths as they are, not quoted
	if out, err = g.output(nil, "ls-tree", "-r", "-z", "--full-tree", t.tip); err != nil {
		return nil, fmt.Errorf("list files of %s: %w", from, err)
	}
	for entry := range strings.SplitSeq(out, "\x00") {
		meta, path, ok := strings.Cut(entry, "\t") // "<mode> <type> <id>\t<path>"
		if f := strings.Fields(meta); ok && len(f) == 3 && f[1] == "blob" {
			t.blobs[path] = f[2]
		}
	}
	return t, nil
}

// rejections are the push failures that mean the branch moved since it was fetched: the lease or
// fast-forward checks (git push --porcelain), and the remote's own compare-and-swap of the ref when two
// pushes race past those checks at once ("cannot lock ref 'refs/heads/main': is at X but expected Y",
// or "reference already exists" for a new branch).
var rejections = [][]byte{
	[]byte("[rejected] (non-fast-forward)"), []byte("[rejected] (fetch first)"), []byte("[rejected] (stale info)"),
	[]byte("but expected"), []byte("reference already exists"),
}

// push pushes commit to the branch if the branch is still where t found it (or still missing), and says whether
// the push was rejected because it was not.
func (r *Repo) push(g *git, t *Tree, commit string) (rejected bool, err error) {
	ref := "refs/heads/" + r.branch
	var expect string // empty: the branch must not exist
	if t.exists {
		expect = t.tip
	}
	err = g.command(nil, "push", "--porcelain",
		// fail unless the branch is still at expect, even if someone reset it to an older commit meanwhile
		"--force-with-lease="+ref+":"+expect,
		r.remote, commit+":"+ref).Run()
	if err == nil {
		return false, nil
	}
	var runErr *exec.RunError
	rejected = errors.As(err, &runErr) && slices.ContainsFunc(rejections, func(s []byte) bool { return bytes.Contains(runErr.Output, s) })
	return rejected, fmt.Errorf("push to branch %q of %s: %w", r.branch, r.remote, r.explainLogin(err))
}

// explainLogin says what to do when err is git's for a remote that wants a login: with no
// credentials, git's own "terminal prompts disabled" names nothing labctl reads.
func (r *Repo) explainLogin(err error) error {
	var runErr *exec.RunError
	if !errors.As(err, &runErr) {
		return err
	}
	hasLogin := r.getenv("LABKIT_GIT_TOKEN") != "" || r.getenv("LABKIT_GIT_PASSWORD") != ""
	out := runErr.Output
	switch {
	case bytes.Contains(out, []byte("terminal prompts disabled")) || bytes.Contains(out, []byte("could not read Username")):
		return fmt.Errorf("%s asks for a login and labctl has none: set LABKIT_GIT_TOKEN to an access token "+
			"(and LABKIT_GIT_USERNAME if the server wants a user name other than x-access-token), or use an SSH remote "+
			"such as git@host:org/gitops.git with an SSH agent: %w", r.remote, err)
	case hasLogin && (bytes.Contains(out, []byte("Authentication failed")) || bytes.Contains(out, []byte("returned error: 403"))):
		return fmt.Errorf("%s refused the login of LABKIT_GIT_USERNAME (default x-access-token) with LABKIT_GIT_PASSWORD or LABKIT_GIT_TOKEN: "+
			"check the token and that it may write to the repository: %w", r.remote, err)
	}
	return err
}
