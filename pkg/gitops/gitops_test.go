package gitops_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// isolated keeps the git commands of the tests away from the machine's git configuration;
// they commit as "Other", the user who pushes meanwhile.
var isolated = []string{
	"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
	"GIT_AUTHOR_NAME=Other", "GIT_AUTHOR_EMAIL=other@example.com",
	"GIT_COMMITTER_NAME=Other", "GIT_COMMITTER_EMAIL=other@example.com",
}

// gitT runs git in dir and returns its stdout.
func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command(t.Context(), "git", args...)
	c.Dir = dir
	c.Env = isolated
	out, err := c.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// rev returns what rev-parse makes of rev in dir.
func rev(t *testing.T, dir, rev string) string {
	t.Helper()
	return strings.TrimSpace(gitT(t, dir, "rev-parse", rev))
}

// refs returns every ref of the repository at dir with the object it points to.
func refs(t *testing.T, dir string) string {
	t.Helper()
	return gitT(t, dir, "for-each-ref", "--format=%(refname) %(objectname)")
}

// newRemote returns a bare repository whose default branch is main, with files committed to main unless files is nil.
func newRemote(t *testing.T, files map[string]string) string {
	t.Helper()
	remote := filepath.Join(t.TempDir(), "remote.git")
	gitT(t, "", "init", "--quiet", "--bare", "--initial-branch=main", remote)
	if files != nil {
		pushFiles(t, remote, "main", "seed", files)
	}
	return remote
}

// pushFiles commits files to branch of remote through a clone of its own, as someone else would,
// starting the branch from the default branch when it does not exist yet.
func pushFiles(t *testing.T, remote, branch, message string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	gitT(t, dir, "clone", "--quiet", remote, ".")
	if gitT(t, dir, "ls-remote", "origin", "refs/heads/"+branch) != "" {
		gitT(t, dir, "checkout", "--quiet", "-B", branch, "origin/"+branch)
	}
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitT(t, dir, "add", "--all")
	gitT(t, dir, "commit", "--quiet", "--message", message)
	gitT(t, dir, "push", "--quiet", "origin", "HEAD:refs/heads/"+branch)
}

// filesAt returns the files of rev in the repository at dir.
func filesAt(t *testing.T, dir, rev string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, p := range strings.Fields(gitT(t, dir, "ls-tree", "-r", "--name-only", rev)) {
		files[p] = gitT(t, dir, "cat-file", "blob", rev+":"+p)
	}
	return files
}

// subjects returns the subjects of the commits of rev in the repository at dir, newest first.
func subjects(t *testing.T, dir, rev string) []string {
	t.Helper()
	return strings.Split(strings.TrimSpace(gitT(t, dir, "log", "--format=%s", rev)), "\n")
}

// newRepo returns a Repo for branch of remote that ignores the machine's git configuration and whose
// temporary clones must all be gone when the test ends.
func newRepo(t *testing.T, remote, branch string, opts ...gitops.Option) *gitops.Repo {
	t.Helper()
	workDir := t.TempDir()
	t.Cleanup(func() {
		if left, err := os.ReadDir(workDir); err != nil || len(left) > 0 {
			t.Errorf("work directory after the test: %v (error %v), want it empty", left, err)
		}
	})
	opts = append([]gitops.Option{gitops.WithWorkDir(workDir), gitops.WithEnv("GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")}, opts...)
	r, err := gitops.New(remote, branch, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// changes returns a PrepareFunc that always returns cs.
func changes(cs ...gitops.Change) gitops.PrepareFunc {
	return func(*gitops.Tree) ([]gitops.Change, error) { return cs, nil }
}

func write(p, content string) gitops.Change { return gitops.Change{Path: p, Content: []byte(content)} }

func del(p string) gitops.Change { return gitops.Change{Path: p, Delete: true} }

var seed = map[string]string{
	"README.md":               "# gitops\n",
	"labs/team-a/lab.yaml":    "name: a\n",
	"labs/team-a/sub/x.yaml":  "x: 1\n",
	"labs/team-b/lab.yaml":    "name: b\n",
	"clusters/dev/kind.yaml":  "kind: Cluster\n",
	"labs-archive/old.yaml":   "old: true\n",
	"labs/team-b/notes/a.txt": "notes\n",
}

// with returns seed with the files of edits set, or removed where the content is empty.
func with(edits map[string]string) map[string]string {
	files := maps.Clone(seed)
	for p, content := range edits {
		if content == "" {
			delete(files, p)
		} else {
			files[p] = content
		}
	}
	return files
}

func TestCommit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		seed       map[string]string // nil: an empty remote
		branch     string
		opts       []gitops.Option
		prepare    gitops.PrepareFunc
		want       map[string]string // every file on the branch afterwards
		wantAuthor string
	}{
		{
			name:       "a new branch starts from the default branch, which stays as it was",
			seed:       seed,
			branch:     "labs/team-c",
			prepare:    changes(write("labs/team-c/lab.yaml", "name: c\n")),
			want:       with(map[string]string{"labs/team-c/lab.yaml": "name: c\n"}),
			wantAuthor: "labctl <labctl@labkit.dev>",
		},
		{
			name:       "an existing branch gets a commit on top of its tip",
			seed:       seed,
			branch:     "main",
			prepare:    changes(write("labs/team-a/lab.yaml", "name: a2\n")),
			want:       with(map[string]string{"labs/team-a/lab.yaml": "name: a2\n"}),
			wantAuthor: "labctl <labctl@labkit.dev>",
		},
		{
			name:       "an empty remote gets its first commit on the branch",
			branch:     "labs/team-a",
			prepare:    changes(write("labs/team-a/lab.yaml", "name: a\n"), write("empty", "")),
			want:       map[string]string{"labs/team-a/lab.yaml": "name: a\n", "empty": ""},
			wantAuthor: "labctl <labctl@labkit.dev>",
		},
		{
			name:    "deleting a directory deletes every file under it and nothing beside it",
			seed:    seed,
			branch:  "main",
			prepare: changes(del("labs/team-a")),
			want:    with(map[string]string{"labs/team-a/lab.yaml": "", "labs/team-a/sub/x.yaml": ""}),
		},
		{
			name:    "changes apply in order: delete a directory, then write into it",
			seed:    seed,
			branch:  "main",
			prepare: changes(del("labs/team-a"), write("labs/team-a/lab.yaml", "name: new\n")),
			want:    with(map[string]string{"labs/team-a/lab.yaml": "name: new\n", "labs/team-a/sub/x.yaml": ""}),
		},
		{
			name:    "a file written then deleted is not committed",
			seed:    seed,
			branch:  "main",
			prepare: changes(write("tmp.yaml", "x\n"), del("tmp.yaml"), del("README.md")),
			want:    with(map[string]string{"README.md": ""}),
		},
		{
			name:    "prepare sees the files of the tip",
			seed:    seed,
			branch:  "main",
			prepare: copyLabs("labs", "backup"),
			want: with(map[string]string{
				"backup/team-a/lab.yaml": "name: a\n", "backup/team-a/sub/x.yaml": "x: 1\n",
				"backup/team-b/lab.yaml": "name: b\n", "backup/team-b/notes/a.txt": "notes\n",
			}),
		},
		{
			name:       "the author option names author and committer",
			seed:       seed,
			branch:     "main",
			opts:       []gitops.Option{gitops.WithAuthor("Ada Lovelace", "ada@example.com")},
			prepare:    changes(write("labs/team-a/lab.yaml", "name: a2\n")),
			want:       with(map[string]string{"labs/team-a/lab.yaml": "name: a2\n"}),
			wantAuthor: "Ada Lovelace <ada@example.com>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remote := newRemote(t, tt.seed)
			var mainTip string
			if tt.seed != nil {
				mainTip = rev(t, remote, "refs/heads/main")
			}

			res, err := newRepo(t, remote, tt.branch, tt.opts...).Commit(t.Context(), "change labs", tt.prepare)
			if err != nil {
				t.Fatalf("Commit() = %v", err)
			}

			if got := rev(t, remote, "refs/heads/"+tt.branch); got != res.Commit || res.Attempts != 1 {
				t.Errorf("Commit() = %+v, want commit %s (the branch tip) after 1 attempt", res, got)
			}
			if got := filesAt(t, remote, res.Commit); !maps.Equal(got, tt.want) {
				t.Errorf("files on the branch = %v, want %v", got, tt.want)
			}
			if parent := strings.TrimSpace(gitT(t, remote, "log", "-1", "--format=%P", res.Commit)); parent != mainTip {
				t.Errorf("parent of the commit = %q, want %q (the tip of main before)", parent, mainTip)
			}
			if tt.seed != nil && tt.branch != "main" {
				if got := rev(t, remote, "refs/heads/main"); got != mainTip {
					t.Errorf("main moved from %s to %s", mainTip, got)
				}
			}
			if tt.wantAuthor != "" {
				want := tt.wantAuthor + "|" + tt.wantAuthor + "|change labs"
				if got := strings.TrimSpace(gitT(t, remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", res.Commit)); got != want {
					t.Errorf("author|committer|message = %q, want %q", got, want)
				}
			}
		})
	}
}

// copyLabs returns a PrepareFunc that copies every file under dir to the same path under to.
func copyLabs(dir, to string) gitops.PrepareFunc {
	return func(tree *gitops.Tree) ([]gitops.Change, error) {
		var cs []gitops.Change
		for _, p := range tree.List(dir) {
			content, _, err := tree.Read(p)
			if err != nil {
				return nil, err
			}
			cs = append(cs, gitops.Change{Path: to + strings.TrimPrefix(p, dir), Content: content})
		}
		return cs, nil
	}
}

func TestCommitRetriesOnTheNewTipWhenSomeonePushedMeanwhile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		seed   map[string]string
		branch string
	}{
		{name: "existing branch", seed: seed, branch: "main"},
		{name: "new branch someone else created meanwhile", seed: seed, branch: "labs/team-c"},
		{name: "empty remote someone else pushed to meanwhile", branch: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remote := newRemote(t, tt.seed)
			calls := 0
			prepare := func(tree *gitops.Tree) ([]gitops.Change, error) {
				calls++
				_, seen, err := tree.Read("labs/other.yaml")
				switch {
				case err != nil:
					t.Errorf("Read() = %v", err)
				case calls == 1:
					pushFiles(t, remote, tt.branch, "competing commit", map[string]string{"labs/other.yaml": "other\n"})
				case !seen:
					t.Errorf("call %d of prepare does not see the competing commit", calls)
				}
				return []gitops.Change{write("labs/mine.yaml", "mine\n")}, nil
			}

			res, err := newRepo(t, remote, tt.branch).Commit(t.Context(), "my commit", prepare)
			if err != nil {
				t.Fatalf("Commit() = %v", err)
			}

			if res.Attempts != 2 || calls != 2 {
				t.Errorf("Commit() took %d attempts and %d calls of prepare, want 2 and 2", res.Attempts, calls)
			}
			want := []string{"my commit", "competing commit"}
			if tt.seed != nil {
				want = append(want, "seed")
			}
			if got := subjects(t, remote, "refs/heads/"+tt.branch); !slices.Equal(got, want) {
				t.Errorf("history of the branch = %q, want %q", got, want)
			}
			files := filesAt(t, remote, res.Commit)
			if files["labs/mine.yaml"] != "mine\n" || files["labs/other.yaml"] != "other\n" {
				t.Errorf("files on the branch = %v, want both labs/mine.yaml and labs/other.yaml", files)
			}
		})
	}
}

func TestCommitGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	calls := 0
	prepare := func(*gitops.Tree) ([]gitops.Change, error) {
		calls++
		pushFiles(t, remote, "main", fmt.Sprintf("competing commit %d", calls), map[string]string{fmt.Sprintf("labs/other-%d.yaml", calls): "other\n"})
		return []gitops.Change{write("labs/mine.yaml", "mine\n")}, nil
	}

	_, err := newRepo(t, remote, "main", gitops.WithMaxRetries(2)).Commit(t.Context(), "my commit", prepare)

	if want := `push to branch "main" of ` + remote + ": gave up after 3 attempts"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Commit() = %v, want an error starting with %q", err, want)
	}
	if calls != 3 {
		t.Errorf("prepare called %d times, want 3", calls)
	}
	want := []string{"competing commit 3", "competing commit 2", "competing commit 1", "seed"}
	if got := subjects(t, remote, "--all"); !slices.Equal(got, want) {
		t.Errorf("history of the remote = %q, want %q", got, want)
	}
}

func TestCommitFailureLeavesTheRemoteUntouched(t *testing.T) {
	t.Parallel()
	errAbort := errors.New(`lab "team-a" already exists`)
	tests := []struct {
		name    string
		message string // "change labs" unless set
		prepare gitops.PrepareFunc
		wantErr string
	}{
		{
			name:    "prepare fails, its error is returned as it is",
			prepare: func(*gitops.Tree) ([]gitops.Change, error) { return nil, errAbort },
			wantErr: errAbort.Error(),
		},
		{
			name:    "empty commit message",
			message: " \n",
			prepare: changes(write("labs/ok.yaml", "ok\n")),
			wantErr: "commit message is empty",
		},
		{
			name:    "path leaves the repository",
			prepare: changes(write("labs/ok.yaml", "ok\n"), write("../escape.yaml", "x\n")),
			wantErr: `path "../escape.yaml" is not a clean relative path in the repository`,
		},
		{
			name:    "absolute path",
			prepare: changes(write("/etc/passwd", "x\n")),
			wantErr: `path "/etc/passwd" is not a clean relative path`,
		},
		{
			name:    "path not clean",
			prepare: changes(del("labs/./team-a")),
			wantErr: `path "labs/./team-a" is not a clean relative path`,
		},
		{
			name:    "empty path",
			prepare: changes(write("", "x\n")),
			wantErr: `path "" is not a clean relative path`,
		},
		{
			name:    "no content and no delete",
			prepare: changes(gitops.Change{Path: "labs/x.yaml"}),
			wantErr: `change to "labs/x.yaml" has no content`,
		},
		{
			name:    "content and delete",
			prepare: changes(gitops.Change{Path: "labs/x.yaml", Content: []byte("x"), Delete: true}),
			wantErr: `change to "labs/x.yaml" both deletes the path and gives it content`,
		},
		{
			name:    "file where a file is a directory",
			prepare: changes(write("README.md/x.yaml", "x\n")),
			wantErr: `write "README.md/x.yaml": command "git update-index --add --cacheinfo 100644 `,
		},
		{
			name:    "path inside .git",
			prepare: changes(write(".git/config", "x\n")),
			wantErr: `write ".git/config": command "git update-index`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remote := newRemote(t, seed)
			before := refs(t, remote)

			_, err := newRepo(t, remote, "labs/team-a").Commit(t.Context(), cmp.Or(tt.message, "change labs"), tt.prepare)

			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || (tt.wantErr == errAbort.Error() && !errors.Is(err, errAbort)) {
				t.Errorf("Commit() = %v, want an error starting with %q", err, tt.wantErr)
			}
			if after := refs(t, remote); after != before {
				t.Errorf("refs of the remote changed from\n%s\nto\n%s", before, after)
			}
		})
	}
}

func TestNoChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare gitops.PrepareFunc
	}{
		{name: "no changes", prepare: changes()},
		{name: "same content", prepare: changes(write("labs/team-a/lab.yaml", seed["labs/team-a/lab.yaml"]))},
		{name: "delete a path that does not exist", prepare: changes(del("labs/team-z"))},
		{name: "write a file, then delete it", prepare: changes(write("tmp.yaml", "x\n"), del("tmp.yaml"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remote := newRemote(t, seed)
			before := refs(t, remote)
			repo := newRepo(t, remote, "main")

			if _, err := repo.Commit(t.Context(), "change labs", tt.prepare); !errors.Is(err, gitops.ErrNoChanges) {
				t.Errorf("Commit() = %v, want ErrNoChanges", err)
			}
			if _, err := repo.DryRun(t.Context(), tt.prepare); !errors.Is(err, gitops.ErrNoChanges) {
				t.Errorf("DryRun() = %v, want ErrNoChanges", err)
			}
			if after := refs(t, remote); after != before {
				t.Errorf("refs of the remote changed from\n%s\nto\n%s", before, after)
			}
		})
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		seed     map[string]string
		branch   string
		prepare  gitops.PrepareFunc
		wantDiff []string // lines the diff must have
	}{
		{
			name:   "new, changed and deleted files on a new branch",
			seed:   seed,
			branch: "labs/team-c",
			prepare: changes(
				write("labs/team-c/lab.yaml", "kind: JupyterLab\nname: c\n"),
				write("labs/team-a/lab.yaml", "name: a2\n"),
				del("labs/team-b"),
			),
			wantDiff: []string{
				"diff --git a/labs/team-c/lab.yaml b/labs/team-c/lab.yaml", "new file mode 100644", "+kind: JupyterLab", "+name: c",
				"-name: a", "+name: a2",
				"deleted file mode 100644", "--- a/labs/team-b/notes/a.txt", "-name: b",
			},
		},
		{
			name:     "first file of an empty remote",
			branch:   "main",
			prepare:  changes(write("labs/team-a/lab.yaml", "name: a\n")),
			wantDiff: []string{"new file mode 100644", "+++ b/labs/team-a/lab.yaml", "+name: a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			remote := newRemote(t, tt.seed)
			before := refs(t, remote)

			diff, err := newRepo(t, remote, tt.branch).DryRun(t.Context(), tt.prepare)
			if err != nil {
				t.Fatalf("DryRun() = %v", err)
			}

			lines := strings.Split(diff, "\n")
			for _, want := range tt.wantDiff {
				if !slices.Contains(lines, want) {
					t.Errorf("diff has no line %q:\n%s", want, diff)
				}
			}
			if after := refs(t, remote); after != before {
				t.Errorf("refs of the remote changed from\n%s\nto\n%s", before, after)
			}
		})
	}
}

func TestView(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	empty := newRemote(t, nil)
	tests := []struct {
		name     string
		remote   string
		branch   string
		dir      string
		want     []string
		wantRead map[string]string // path to content; "" means no such file
	}{
		{
			name: "files under a directory", remote: remote, branch: "main", dir: "labs",
			want:     []string{"labs/team-a/lab.yaml", "labs/team-a/sub/x.yaml", "labs/team-b/lab.yaml", "labs/team-b/notes/a.txt"},
			wantRead: map[string]string{"labs/team-a/lab.yaml": "name: a\n", "labs/team-a": "", "labs/team-z/lab.yaml": ""},
		},
		{
			name: "a trailing slash changes nothing", remote: remote, branch: "main", dir: "labs/team-b/",
			want: []string{"labs/team-b/lab.yaml", "labs/team-b/notes/a.txt"},
		},
		{
			name: "all files of a branch yet to be created are those of the default branch", remote: remote, branch: "labs/team-c", dir: "",
			want:     slices.Sorted(maps.Keys(seed)),
			wantRead: map[string]string{"README.md": "# gitops\n"},
		},
		{name: "a prefix that is not a whole directory name matches nothing", remote: remote, branch: "main", dir: "lab"},
		{name: "an empty remote has no files", remote: empty, branch: "main", dir: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := newRepo(t, tt.remote, tt.branch).View(t.Context(), func(tree *gitops.Tree) error {
				if got := tree.List(tt.dir); !slices.Equal(got, tt.want) {
					t.Errorf("List(%q) = %q, want %q", tt.dir, got, tt.want)
				}
				for p, want := range tt.wantRead {
					got, ok, err := tree.Read(p)
					if err != nil || string(got) != want || ok != (want != "") {
						t.Errorf("Read(%q) = %q, %v, %v; want %q, %v, nil", p, got, ok, err, want, want != "")
					}
				}
				if _, _, err := tree.Read("../x"); err == nil {
					t.Error(`Read("../x") = nil error, want one`)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("View() = %v", err)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	remote := "https://github.com/org/gitops.git"
	tests := []struct {
		name    string
		remote  string
		branch  string
		opts    []gitops.Option
		wantErr string
	}{
		{name: "two dots", remote: remote, branch: "labs..a", wantErr: `invalid branch name "labs..a"`},
		{name: "space", remote: remote, branch: "labs a", wantErr: `invalid branch name "labs a"`},
		{name: "leading dash", remote: remote, branch: "-f", wantErr: `invalid branch name "-f"`},
		{name: "trailing slash", remote: remote, branch: "labs/", wantErr: `invalid branch name "labs/"`},
		{name: "empty branch", remote: remote, branch: "", wantErr: `invalid branch name ""`},
		{
			name: "password in the URL", remote: "https://ada:s3cret@github.com/org/gitops.git", branch: "main",
			wantErr: `remote "https://ada:xxxxx@github.com/org/gitops.git" embeds a password: remove it from the URL and set LABKIT_GIT_PASSWORD`,
		},
		{name: "remote like an option", remote: "--upload-pack=touch /tmp/x", branch: "main", wantErr: `invalid remote "--upload-pack=touch /tmp/x"`},
		{name: "empty remote", remote: "", branch: "main", wantErr: `invalid remote ""`},
		{name: "negative retries", remote: remote, branch: "main", opts: []gitops.Option{gitops.WithMaxRetries(-1)}, wantErr: "max retries -1 is negative"},
		{name: "author without email", remote: remote, branch: "main", opts: []gitops.Option{gitops.WithAuthor("Ada", "")}, wantErr: `author "Ada" <> needs both`},
		{name: "environment entry", remote: remote, branch: "main", opts: []gitops.Option{gitops.WithEnv("GIT_CONFIG_GLOBAL")}, wantErr: `environment entry "GIT_CONFIG_GLOBAL" is not KEY=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gitops.New(tt.remote, tt.branch, append(tt.opts, gitops.WithEnv(isolated...))...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("New() = %v, want an error starting with %q and no password", err, tt.wantErr)
			}
		})
	}
}

// newHTTPRemote serves an empty repository over smart HTTP at the returned URL, to clients that give a user and
// password of accounts.
func newHTTPRemote(t *testing.T, accounts map[string]string) (url, dir string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "remote.git")
	gitT(t, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	gitT(t, dir, "config", "http.receivepack", "true")
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(gitT(t, "", "--exec-path")), "git-http-backend"),
		Env:  append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, isolated...),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if want, known := accounts[u]; !ok || !known || p != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="labkit"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/remote.git", dir
}

func TestCommitOverHTTPWithCredentialsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     []string
		wantErr string // empty: the commit is pushed
	}{
		{name: "token", env: []string{"LABKIT_GIT_TOKEN=t0ken"}},
		{
			name: "token wins over a credential helper configured before",
			env: []string{
				"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.helper", "GIT_CONFIG_VALUE_0=!f() { echo username=ada; echo password=stale; }; f",
				"LABKIT_GIT_TOKEN=t0ken",
			},
		},
		{name: "username and password", env: []string{"LABKIT_GIT_USERNAME=ada", "LABKIT_GIT_PASSWORD=pa55", "LABKIT_GIT_TOKEN=ignored"}},
		{name: "wrong password", env: []string{"LABKIT_GIT_USERNAME=ada", "LABKIT_GIT_PASSWORD=wrong"}, wantErr: "refused the login of LABKIT_GIT_USERNAME"},
		{name: "no credentials: no prompt either, and what to set", env: []string{"LABKIT_GIT_PASSWORD=", "LABKIT_GIT_TOKEN="}, wantErr: "asks for a login and labctl has none: set LABKIT_GIT_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, dir := newHTTPRemote(t, map[string]string{"x-access-token": "t0ken", "ada": "pa55"})

			_, err := newRepo(t, url, "main", gitops.WithEnv(tt.env...)).Commit(t.Context(), "over http", changes(write("labs/a.yaml", "a\n")))

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Commit() = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Commit() = %v", err)
			}
			if got := filesAt(t, dir, "refs/heads/main"); got["labs/a.yaml"] != "a\n" {
				t.Errorf("files on the remote = %v, want labs/a.yaml", got)
			}
		})
	}
}

func TestCommitLeavesTheRepositoryOfAGitHookAlone(t *testing.T) {
	t.Parallel()
	// a pre-commit hook runs with GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE of the repository being committed to
	hook := t.TempDir()
	gitT(t, hook, "init", "--quiet")
	if err := os.WriteFile(filepath.Join(hook, "staged.txt"), []byte("staged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitT(t, hook, "add", "staged.txt")
	before := gitT(t, hook, "status", "--porcelain")
	remote := newRemote(t, seed)
	env := gitops.WithEnv("GIT_DIR="+filepath.Join(hook, ".git"), "GIT_WORK_TREE="+hook, "GIT_INDEX_FILE="+filepath.Join(hook, ".git", "index"))

	res, err := newRepo(t, remote, "main", env).Commit(t.Context(), "change labs", changes(write("labs/new.yaml", "new\n")))
	if err != nil {
		t.Fatalf("Commit() = %v", err)
	}

	if got := filesAt(t, remote, res.Commit); got["labs/new.yaml"] != "new\n" {
		t.Errorf("files on the branch = %v, want labs/new.yaml", got)
	}
	if after := gitT(t, hook, "status", "--porcelain"); after != before {
		t.Errorf("status of the hook's repository changed from %q to %q", before, after)
	}
}

func TestCommitCancelledLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	before := refs(t, remote)
	ctx, cancel := context.WithCancel(t.Context())
	prepare := func(*gitops.Tree) ([]gitops.Change, error) {
		cancel() // as Ctrl-C while labctl works
		return []gitops.Change{write("labs/new.yaml", "new\n")}, nil
	}

	_, err := newRepo(t, remote, "main").Commit(ctx, "change labs", prepare)

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit() = %v, want context.Canceled", err)
	}
	if after := refs(t, remote); after != before {
		t.Errorf("refs of the remote changed from\n%s\nto\n%s", before, after)
	}
}

func TestLastChange(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	pushFiles(t, remote, "main", "Change team-a", map[string]string{"labs/team-a/lab.yaml": "name: a2\n"})
	pushFiles(t, remote, "main", "Change the readme", map[string]string{"README.md": "# gitops 2\n"})
	tip, teamA, first := rev(t, remote, "main"), rev(t, remote, "main~1"), rev(t, remote, "main~2")

	err := newRepo(t, remote, "main").View(t.Context(), func(tree *gitops.Tree) error {
		if tree.Tip() != tip || !tree.BranchExists() {
			t.Errorf("Tip() = %s, BranchExists() = %v; want %s, true", tree.Tip(), tree.BranchExists(), tip)
		}
		for p, want := range map[string]string{"labs/team-a": teamA, "labs/team-a/lab.yaml": teamA, "labs/team-b": first, "README.md": tip} {
			c, ok, err := tree.LastChange(p)
			if err != nil || !ok || c.ID != want {
				t.Errorf("LastChange(%q) = %+v, %v, %v; want commit %s", p, c, ok, err, want)
			}
		}
		c, _, _ := tree.LastChange("labs/team-a")
		if c.Subject != "Change team-a" || c.Author == "" || c.Date.IsZero() {
			t.Errorf("LastChange(labs/team-a) = %+v, want subject, author and date", c)
		}
		if _, ok, err := tree.LastChange("labs/nosuch"); ok || err != nil {
			t.Errorf("LastChange of a path never written = %v, %v; want none and no error", ok, err)
		}
		if c, ok, err := tree.LastChange("labs/team-b", "labs/team-a"); !ok || err != nil || c.ID != teamA {
			t.Errorf("LastChange of two paths = %+v, %v, %v; want the newer one's, %s", c, ok, err, teamA)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = newRepo(t, newRemote(t, nil), "main").View(t.Context(), func(tree *gitops.Tree) error {
		if _, ok, err := tree.LastChange("labs"); ok || err != nil || tree.Tip() != "" {
			t.Errorf("on an empty remote: LastChange = %v, %v; Tip %q; want none", ok, err, tree.Tip())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Includes answers what a reader of the branch at a revision has: a commit at or before it.
func TestIncludes(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	pushFiles(t, remote, "main", "Change team-a", map[string]string{"labs/team-a/lab.yaml": "name: a2\n"})
	pushFiles(t, remote, "side", "A side branch", map[string]string{"side.md": "side\n"})
	pushFiles(t, remote, "main", "Change the readme", map[string]string{"README.md": "# gitops 2\n"})
	tip, middle, first, side := rev(t, remote, "main"), rev(t, remote, "main~1"), rev(t, remote, "main~2"), rev(t, remote, "side")

	err := newRepo(t, remote, "main").View(t.Context(), func(tree *gitops.Tree) error {
		for _, c := range []struct {
			commit, revision string
			want             bool
		}{
			{middle, middle, true},
			{middle, tip, true},
			{first, tip, true},
			{tip, middle, false},  // a reader at middle has not seen tip yet
			{middle, side, false}, // side is not of main's history
			{"0123456789abcdef0123456789abcdef01234567", tip, false}, // no such commit
		} {
			if got, err := tree.Includes(c.commit, c.revision); got != c.want || err != nil {
				t.Errorf("Includes(%.7s, %.7s) = %v, %v; want %v", c.commit, c.revision, got, err, c.want)
			}
		}
		if _, err := tree.Includes("", tip); err == nil {
			t.Error("Includes of no commit: no error")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestATreeNamesTheBranchesAndWhereANewOneStarts(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	pushFiles(t, remote, "team-a", "team a", with(map[string]string{"labs/team-a/lab.yaml": "name: a2\n"}))
	tests := []struct {
		remote, branch string
		exists         bool
		from           string
		branches       []string
	}{
		{remote, "main", true, "main", []string{"main", "team-a"}},
		{remote, "team-a", true, "team-a", []string{"main", "team-a"}},
		{remote, "mian", false, "main", []string{"main", "team-a"}},
		{newRemote(t, nil), "main", false, "", nil},
	}
	for _, tt := range tests {
		err := newRepo(t, tt.remote, tt.branch).View(t.Context(), func(tree *gitops.Tree) error {
			if tree.BranchExists() != tt.exists || tree.StartsFrom() != tt.from || !slices.Equal(tree.Branches(), tt.branches) {
				t.Errorf("branch %s: exists %v, starts from %q, branches %q; want %v, %q, %q",
					tt.branch, tree.BranchExists(), tree.StartsFrom(), tree.Branches(), tt.exists, tt.from, tt.branches)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCommitSaysWhenItStartedTheBranch(t *testing.T) {
	t.Parallel()
	remote := newRemote(t, seed)
	add := func(tree *gitops.Tree) ([]gitops.Change, error) {
		return []gitops.Change{{Path: "labs/new.yaml", Content: []byte(tree.Tip())}}, nil
	}
	res, err := newRepo(t, remote, "feature/x").Commit(t.Context(), "add", add)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NewBranch || res.From != "main" {
		t.Errorf("first commit to feature/x: NewBranch %v, From %q; want true, main", res.NewBranch, res.From)
	}
	res, err = newRepo(t, remote, "feature/x").Commit(t.Context(), "again", add)
	if err != nil {
		t.Fatal(err)
	}
	if res.NewBranch || res.From != "" {
		t.Errorf("second commit to feature/x: NewBranch %v, From %q; want false, \"\"", res.NewBranch, res.From)
	}
}

// Defect: `--repo remote.git` failed with git's "does not appear to be a git repository", as git ran
// in a temporary directory. A relative path is relative to the current directory, as for git.
func TestARelativeRemoteIsRelativeToTheCurrentDirectory(t *testing.T) {
	remote := newRemote(t, seed) // …/remote.git
	t.Chdir(filepath.Dir(remote))
	repo := newRepo(t, "remote.git", "main")
	if got := repo.Remote(); got != remote {
		t.Errorf("Remote() = %q, want %q", got, remote)
	}
	err := repo.View(t.Context(), func(tree *gitops.Tree) error {
		if _, ok, err := tree.Read("README.md"); !ok || err != nil {
			t.Errorf("README.md through a relative remote: found %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"git@github.com:lab/gitops.git": "git@github.com:lab/gitops.git",
		"https://git.example/labs.git":  "https://git.example/labs.git",
		"/srv/git/labs.git":             "/srv/git/labs.git",
		"./sub/a:b.git":                 filepath.Join(filepath.Dir(remote), "sub", "a:b.git"),
		"../labs.git":                   filepath.Join(filepath.Dir(filepath.Dir(remote)), "labs.git"),
		"host:labs.git":                 "host:labs.git",
	} {
		if got, err := gitops.AbsRemote(in); got != want || err != nil {
			t.Errorf("AbsRemote(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
