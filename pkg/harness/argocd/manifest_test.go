package argocd_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/argocd"
)

func TestManifestSources(t *testing.T) {
	t.Parallel()
	const content = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n"
	file := filepath.Join(t.TempDir(), "core-install.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/core-install.yaml" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(content))
	}))
	t.Cleanup(server.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name      string
		opts      []argocd.Option
		want      string   // the whole manifest
		contains  []string // or parts of it
		wantErrIn []string // or parts of the error
	}{
		{
			name:     "Go module of the default version, verified by the go command",
			contains: []string{"kind: StatefulSet\nmetadata:", "name: argocd-application-controller", "image: quay.io/argoproj/argocd:" + argocd.DefaultVersion},
		},
		{name: "file", opts: []argocd.Option{argocd.WithManifestFile(file)}, want: content},
		{name: "URL", opts: []argocd.Option{argocd.WithManifestURL(server.URL + "/core-install.yaml")}, want: content},
		{name: "the last source given wins", opts: []argocd.Option{argocd.WithManifestURL(closed.URL), argocd.WithManifestFile(file)}, want: content},
		{
			name:      "missing file",
			opts:      []argocd.Option{argocd.WithManifestFile(file + ".missing")},
			wantErrIn: []string{"read Argo CD manifest: open " + file + ".missing: no such file or directory"},
		},
		{
			name:      "URL not found",
			opts:      []argocd.Option{argocd.WithManifestURL(server.URL + "/v0.0.0/install.yaml")},
			wantErrIn: []string{"get Argo CD manifest from " + server.URL + "/v0.0.0/install.yaml: 404 Not Found"},
		},
		{
			name:      "unreachable URL",
			opts:      []argocd.Option{argocd.WithManifestURL(closed.URL + "/core-install.yaml")},
			wantErrIn: []string{`get Argo CD manifest: Get "` + closed.URL + `/core-install.yaml": `, "connection refused"},
		},
		{
			name:      "version that is not a release tag",
			opts:      []argocd.Option{argocd.WithVersion("latest")},
			wantErrIn: []string{`Argo CD version "latest": want a release tag such as v3.6.1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := argocd.Manifest(t.Context(), tt.opts...)
			if len(tt.wantErrIn) > 0 {
				if err == nil {
					t.Fatalf("Manifest() = %d bytes, want an error", len(got))
				}
				for _, part := range tt.wantErrIn {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("Manifest() error = %q, want it to contain %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Manifest() = %v", err)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("Manifest() = %q, want %q", got, tt.want)
			}
			for _, part := range tt.contains {
				if !bytes.Contains(got, []byte(part)) {
					t.Errorf("Manifest() does not contain %q", part)
				}
			}
		})
	}
}
