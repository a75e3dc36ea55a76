package gomodule_test

import (
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/gomodule"
)

func TestReadFile(t *testing.T) {
	t.Parallel()
	// A small module labkit's go.mod already holds, so the module cache has it offline too.
	b, err := gomodule.ReadFile(t.Context(), "sigs.k8s.io/yaml", "v1.6.0", "go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "module sigs.k8s.io/yaml") {
		t.Errorf("go.mod of sigs.k8s.io/yaml starts %q", string(b)[:min(len(b), 40)])
	}
	_, err = gomodule.ReadFile(t.Context(), "sigs.k8s.io/yaml", "v1.6.0", "no/such/file")
	if err == nil || !strings.Contains(err.Error(), "sigs.k8s.io/yaml@v1.6.0/no/such/file") {
		t.Errorf("missing file: error %v, want one naming the file", err)
	}
}
