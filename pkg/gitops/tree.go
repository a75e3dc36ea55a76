package gitops

import (
	"bytes"
	"errors"
	"fmt"
	osexec "os/exec"
	"path"
	"slices"
	"strings"
	"time"
)

// Change is one file to write (Content not nil) or delete (Delete true) at a slash-separated path relative to the
// root of the repository. Deleting a directory deletes every file under it.
type Change struct {
	Path    string
	Content []byte
	Delete  bool
}

// Tree is a read-only view of the files of a commit, valid only during the call it is passed to.
type Tree struct {
	g        *git
	tip      string            // commit the view is of; empty on an empty remote
	id       string            // its tree
	exists   bool              // whether the branch exists on the remote (else tip is the default branch's)
	head     string            // the branch tip is of: the branch, else the remote's default branch; "" if unknown
	branches []string          // the remote's branches, sorted
	blobs    map[string]string // file path to blob id

	remote, from string // where tip was fetched from, to fetch its history when LastChange needs it
	deep         bool   // the history of tip has been fetched
}

// Commit is a commit as people read it.
type Commit struct {
	ID      string
	Author  string
	Date    time.Time
	Subject string
}

// Tip is the commit the tree is of: the branch tip, or where a new branch would start; "" on an empty remote.
func (t *Tree) Tip() string { return t.tip }

// BranchExists says whether the branch exists on the remote; if not, the tree is where it would start.
func (t *Tree) BranchExists() bool { return t.exists }

// Branches are the names of the remote's branches, sorted.
func (t *Tree) Branches() []string { return slices.Clone(t.branches) }

// StartsFrom is the branch the tree is of: the branch itself when it exists, else the remote's default
// branch (its HEAD), which a new branch starts from; "" on an empty remote or when the remote does not
// say which branch its HEAD is.
func (t *Tree) StartsFrom() string { return t.head }

// LastChange is the newest commit, up to Tip, that changed any of paths (files or directories), and
// whether there is one. The first call fetches the history it needs.
func (t *Tree) LastChange(paths ...string) (Commit, bool, error) {
	if len(paths) == 0 {
		return Commit{}, false, errors.New("last change of no path: name at least one")
	}
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return Commit{}, false, err
		}
	}
	p := strings.Join(paths, ", ")
	if t.tip == "" {
		return Commit{}, false, nil
	}
	if err := t.deepen(); err != nil {
		return Commit{}, false, err
	}
	// %x00: fields that cannot contain it; -1: the newest only; --: p is a path, never a revision
	out, err := t.g.output(nil, append([]string{"--literal-pathspecs", "log", "-1", "--format=%H%x00%an%x00%aI%x00%s", t.tip, "--"}, paths...)...)
	if err != nil {
		return Commit{}, false, fmt.Errorf("find the last change of %q: %w", p, err)
	}
	if out == "" {
		return Commit{}, false, nil
	}
	f := strings.SplitN(out, "\x00", 4)
	if len(f) != 4 {
		return Commit{}, false, fmt.Errorf("find the last change of %q: unexpected git log output %q", p, out)
	}
	date, err := time.Parse(time.RFC3339, f[2])
	if err != nil {
		return Commit{}, false, fmt.Errorf("find the last change of %q: commit date %q: %w", p, f[2], err)
	}
	return Commit{ID: f[0], Author: f[1], Date: date, Subject: f[3]}, true, nil
}

// deepen fetches the history of tip: the view was fetched with --depth 1.
func (t *Tree) deepen() error {
	if t.deep {
		return nil
	}
	if _, err := t.g.output(nil, "fetch", "--quiet", "--no-tags", "--unshallow", t.remote, t.from); err != nil {
		return fmt.Errorf("fetch the history of %s: %w", t.from, err)
	}
	t.deep = true
	return nil
}

// Includes says whether revision, a commit of the branch up to Tip, is commit or comes after it: what a
// reader of the branch, such as Argo CD at revision, has of commit. A revision Tip does not reach (newer
// than the view, or of another history) does not include it. The first call fetches the history.
func (t *Tree) Includes(commit, revision string) (bool, error) {
	switch {
	case commit == "" || revision == "":
		return false, fmt.Errorf("whether %q includes %q: name both commits", revision, commit)
	case commit == revision:
		return true, nil
	case t.tip == "":
		return false, nil
	}
	if err := t.deepen(); err != nil {
		return false, err
	}
	// Both must be in the branch's history, and commit before revision.
	for _, pair := range [][2]string{{commit, t.tip}, {revision, t.tip}, {commit, revision}} {
		if ok, err := t.isAncestor(pair[0], pair[1]); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// isAncestor says whether commit a is b or an ancestor of b; an object the clone does not have is not.
func (t *Tree) isAncestor(a, b string) (bool, error) {
	err := t.g.command(nil, "merge-base", "--is-ancestor", a, b).Run()
	var exit *osexec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && (exit.ExitCode() == 1 || exit.ExitCode() == 128): // 1: not an ancestor; 128: no such commit
		return false, nil
	}
	return false, fmt.Errorf("whether %s comes before %s: %w", a, b, err)
}

// List returns the sorted paths of the files under the directory dir, or of all files if dir is empty.
func (t *Tree) List(dir string) []string {
	dir = strings.TrimSuffix(dir, "/")
	var paths []string
	for p := range t.blobs {
		if dir == "" || strings.HasPrefix(p, dir+"/") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

// Has says whether there is a file at p.
func (t *Tree) Has(p string) bool {
	_, ok := t.blobs[p]
	return ok
}

// Read returns the content of the file at p and whether there is one.
func (t *Tree) Read(p string) ([]byte, bool, error) {
	if err := checkPath(p); err != nil {
		return nil, false, err
	}
	id, ok := t.blobs[p]
	if !ok {
		return nil, false, nil
	}
	out, err := t.g.command(nil, "cat-file", "blob", id).Output()
	if err != nil {
		return nil, false, fmt.Errorf("read %q: %w", p, err)
	}
	return out, true, nil
}

// checkPath refuses paths that are not clean and relative, so no change can reach outside the repository.
func checkPath(p string) error {
	if p == "." || path.Clean(p) != p || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("path %q is not a clean relative path in the repository: use slash-separated names without \".\", \"..\" or a leading or trailing slash, such as \"labs/team-a/lab.yaml\"", p)
	}
	return nil
}

// apply stages changes on top of t in the index of the temporary repository and returns the resulting tree.
func (t *Tree) apply(changes []Change) (string, error) {
	readTree := []string{"read-tree", "--empty"}
	if t.tip != "" {
		readTree = []string{"read-tree", t.tip}
	}
	if _, err := t.g.output(nil, readTree...); err != nil {
		return "", fmt.Errorf("stage changes: %w", err)
	}
	for _, c := range changes {
		if err := checkPath(c.Path); err != nil {
			return "", err
		}
		switch {
		case c.Delete && c.Content != nil:
			return "", fmt.Errorf("change to %q both deletes the path and gives it content: set only one", c.Path)
		case c.Delete:
			// --cached: there is no work tree; -f: also drop what an earlier change staged; literal: no globs
			if _, err := t.g.output(nil, "--literal-pathspecs", "rm", "--cached", "-r", "-f", "-q", "--ignore-unmatch", "--", c.Path); err != nil {
				return "", fmt.Errorf("delete %q: %w", c.Path, err)
			}
		case c.Content == nil:
			return "", fmt.Errorf("change to %q has no content: use an empty, non-nil Content for an empty file, or set Delete", c.Path)
		default:
			id, err := t.g.output(bytes.NewReader(c.Content), "hash-object", "-w", "--stdin")
			if err == nil {
				_, err = t.g.output(nil, "update-index", "--add", "--cacheinfo", "100644", id, c.Path)
			}
			if err != nil {
				return "", fmt.Errorf("write %q: %w", c.Path, err)
			}
		}
	}
	tree, err := t.g.output(nil, "write-tree")
	if err != nil {
		return "", fmt.Errorf("stage changes: %w", err)
	}
	return tree, nil
}

// commit creates the commit of tree on top of t with message and returns its id.
func (t *Tree) commit(tree, message string) (string, error) {
	args := []string{"commit-tree", tree, "-F", "-"} // -F -: the message comes from stdin
	if t.tip != "" {
		args = append(args, "-p", t.tip)
	}
	id, err := t.g.output(strings.NewReader(message), args...)
	if err != nil {
		return "", fmt.Errorf("create commit: %w", err)
	}
	return id, nil
}

// diff returns the patch from t to tree; diff-tree is plumbing, so the user's diff settings do not change it.
func (t *Tree) diff(tree string) (string, error) {
	out, err := t.g.command(nil, "diff-tree", "-p", t.id, tree).Output()
	if err != nil {
		return "", fmt.Errorf("diff changes: %w", err)
	}
	return string(out), nil
}
