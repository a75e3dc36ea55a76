package gitserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/labkit-dev/labkit/pkg/harness/gitserver"
)

// A test serves a repository for the cluster under test to clone, and pushes to it. For a kind
// cluster, listen on the kind network's gateway with gitserver.WithAddress; here git on this machine
// pushes a commit and clones it back.
func Example() {
	s, err := gitserver.Start(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	url, err := s.CreateRepo("labs")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.TrimPrefix(url, "http://"+s.Addr()))

	dir, _ := os.MkdirTemp("", "labs-")
	defer os.RemoveAll(dir)
	git := func(args ...string) { // prints what git prints on stdout
		cmd := exec.Command("git", append([]string{"-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.Output()
		fmt.Print(string(out))
		if err != nil {
			fmt.Println("git", strings.Join(args, " "), err)
		}
	}
	git("clone", "--quiet", url, "work")
	git("-C", "work", "commit", "--quiet", "--allow-empty", "-m", "Start the lab repository")
	git("-C", "work", "push", "--quiet", "origin", "HEAD:main")
	git("clone", "--quiet", url, "again")
	git("-C", "again", "log", "--format=%s")
	// Output:
	// /labs.git
	// Start the lab repository
}
