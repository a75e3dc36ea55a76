//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/stack"
)

// digestLines is how many of the controller's lines about a failed feature's namespace the digest keeps.
const digestLines = 40

// logDigest puts the gist of a failed feature's evidence into the test's own output: each lab of ns as
// its status says, and the controller's last lines about ns. A CI run often keeps only that output, not
// the artifacts directory; these are what a failure of a lab's state is read from first.
func logDigest(ctx context.Context, t *testing.T, c client.Client, evidenceDir, ns string) {
	t.Helper()
	labs := &labkitv1alpha1.JupyterLabList{}
	if err := c.List(ctx, labs, client.InNamespace(ns)); err != nil {
		t.Logf("digest: list the labs of %s: %v", ns, err)
	}
	var b strings.Builder
	for _, l := range labs.Items {
		fmt.Fprintf(&b, "lab %s: phase %s, stopped %+v, idleSince %v, generation %d observed %d\n",
			l.Name, l.Status.Phase, l.Status.Stopped, l.Status.IdleSince, l.Generation, l.Status.ObservedGeneration)
		for _, cond := range l.Status.Conditions {
			fmt.Fprintf(&b, "  %s=%s %s (%s): %s\n", cond.Type, cond.Status, cond.Reason, cond.LastTransitionTime.UTC().Format("15:04:05"), cond.Message)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(evidenceDir, stack.ControllerNamespace, "logs", "*.log"))
	for _, file := range logs {
		lines, err := controllerLinesAbout(file, ns)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", filepath.Base(file), err)
			continue
		}
		fmt.Fprintf(&b, "%s, its last %d lines about %s (of %d):\n", filepath.Base(file), min(len(lines), digestLines), ns, len(lines))
		for _, l := range lines[max(0, len(lines)-digestLines):] {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	t.Logf("digest of the evidence:\n%s", b.String())
}

// controllerLinesAbout returns the controller's log lines about namespace ns, each shortened to its
// time, lab and message, and what else it says, such as what it did to which child, or an error.
func controllerLinesAbout(file, ns string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Keys every reconcile's lines carry, or that the line's head already says.
	common := map[string]bool{"level": true, "ts": true, "logger": true, "msg": true, "controller": true, "controllerGroup": true,
		"controllerKind": true, "JupyterLab": true, "namespace": true, "reconcileID": true}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) != nil || e["namespace"] != ns {
			continue
		}
		lab, _ := e["JupyterLab"].(map[string]any)
		line := fmt.Sprintf("%v %v: %v", e["ts"], lab["name"], e["msg"])
		keys := slices.Sorted(maps.Keys(e))
		for _, k := range keys {
			if !common[k] {
				line += fmt.Sprintf(" %s=%v", k, e[k])
			}
		}
		lines = append(lines, line)
	}
	return lines, sc.Err()
}
