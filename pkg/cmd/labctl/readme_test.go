package labctl_test

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/labkit-dev/labkit/pkg/cmd/labctl"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
)

// The README's labctl examples, run as written, in order, against docs/examples/catalog.yaml and a
// local remote in place of the cluster and of git@github.com:lab/gitops.git. Only what cannot be
// here is changed: those two, the password on stdin, and the lines that need a running cluster
// (open), a terminal (a bare create) or a placeholder ("...") are left out, and optional parts
// ("[--wait]") are dropped.
func TestTheREADMEsLabctlExamplesRunAsWritten(t *testing.T) {
	t.Parallel()
	examples := readmeExamples(t, "../../../README.md", "## Quickstart: labctl")
	if len(examples) < 8 {
		t.Fatalf("found %d labctl examples in the README, want the quickstart's: %q", len(examples), examples)
	}
	bare := gittest.Remote(t)
	profile := filepath.Join(t.TempDir(), "profile.yaml")
	const exampleCatalog = "../../../docs/examples/catalog.yaml"
	optional := regexp.MustCompile(`\s*\[[^]]*\]`)
	ran := 0
	for _, line := range examples {
		// A bare `labctl create` asks at a terminal: internal/shared's ask_test.go runs it through a pseudo-terminal.
		if strings.Contains(line, "...") || strings.Contains(line, "| kubectl") || strings.Contains(line, "labctl open ") || line == "bin/labctl create" {
			continue
		}
		stdin := ""
		if before, after, ok := strings.Cut(line, "| bin/labctl "); ok {
			if !strings.Contains(before, "$PASSWORD") {
				t.Fatalf("README example pipes something other than $PASSWORD: %s", line)
			}
			stdin, line = "a-password\n", "bin/labctl "+after
		}
		if _, inner, ok := strings.Cut(line, "<(bin/labctl "); ok { // source <(bin/labctl completion bash)
			inner, _, _ = strings.Cut(inner, ")")
			line = "bin/labctl " + inner
		}
		line = optional.ReplaceAllString(line, "")
		line = strings.ReplaceAll(line, "git@github.com:lab/gitops.git", bare)
		args := shellWords(t, strings.TrimPrefix(line, "bin/labctl "))
		if len(args) > 2 && args[len(args)-2] == ">" { // "> catalog.yaml": the output is not needed
			args = args[:len(args)-2]
		}
		switch args[0] {
		case "nodes", "create":
			args = append(args, "--catalog", exampleCatalog)
		}
		args = append(args, "--profile", profile, "--kubeconfig", filepath.Join(t.TempDir(), "no-cluster"))
		var out strings.Builder
		cmd := newCommand(strings.NewReader(stdin), &out)
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(t.Context()); err != nil {
			t.Errorf("README example %q fails: %v\n%s", line, err, out.String())
		}
		ran++
	}
	if ran < 8 {
		t.Errorf("ran %d README examples, want at least 8", ran)
	}
	if files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "team-a"); strings.Contains(files, "ada-a100") {
		t.Errorf("the README's labctl delete left the lab on team-a:\n%s", files)
	}
	if log := gittest.Git(t, bare, "log", "--format=%s", "team-a"); !strings.Contains(log, "Stop JupyterLab jupyter/ada-a100") ||
		!strings.Contains(log, "Delete JupyterLab jupyter/ada-a100") {
		t.Errorf("the README's examples did not stop and delete the lab on team-a:\n%s", log)
	}
}

// readmeExamples are the labctl command lines of the sh blocks of the README's section, continuation
// lines joined and comments removed.
func readmeExamples(t *testing.T, path, section string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, text, ok := strings.Cut(string(data), "\n"+section+"\n")
	if !ok {
		t.Fatalf("%s has no section %q", path, section)
	}
	text, _, _ = strings.Cut(text, "\n## ")
	var lines []string
	inBlock, cont := false, ""
	for sc := bufio.NewScanner(strings.NewReader(text)); sc.Scan(); {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock && l == "```sh"
			continue
		case !inBlock:
			continue
		}
		if i := strings.Index(l, "  #"); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		l, cont = cont+l, ""
		if strings.Contains(l, "bin/labctl ") && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// shellWords splits a command line as sh would for the README's simple lines: words at spaces, and
// single or double quotes kept together.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	quote, inWord := rune(0), false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// newCommand is the labctl command tree reading in and writing stdout and stderr to out.
func newCommand(in io.Reader, out io.Writer) *cobra.Command {
	return labctl.NewCommand(logr.Discard(), labctl.Streams{In: in, Out: out, ErrOut: out})
}
