package argocd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/labkit-dev/labkit/pkg/harness/gomodule"
)

// DefaultVersion is the Argo CD release installed unless WithVersion says otherwise.
const DefaultVersion = "v3.6.1"

// manifestPath is the manifest of Argo CD's core components inside its source tree: the application
// controller, the applicationset controller, the repo server, redis and the CRDs; no API server, UI,
// dex or notifications.
const manifestPath = "manifests/core-install.yaml"

// maxManifestSize bounds what is read from a file, a URL or the module zip (core-install.yaml of
// v3.6.1 is about 2 MB).
const maxManifestSize = 64 << 20

var semverRE = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// Manifest returns the YAML that Install applies, before its transforms: by default core-install.yaml
// of the Argo CD release WithVersion names, taken from the Argo CD Go module, which the go command
// downloads into its module cache (or finds there, offline) and checks against the checksum database,
// as for any Go dependency (so GONOSUMDB, GONOSUMCHECK or GOSUMDB=off in the environment weaken it).
// WithManifestFile and WithManifestURL read it from elsewhere, unchecked.
func Manifest(ctx context.Context, opts ...Option) ([]byte, error) {
	return newOptions(opts).manifest(ctx)
}

func (o *options) manifest(ctx context.Context) ([]byte, error) {
	switch {
	case o.manifestFile != "":
		f, err := os.Open(o.manifestFile)
		if err != nil {
			return nil, fmt.Errorf("read Argo CD manifest: %w", err)
		}
		defer f.Close()
		b, err := readAll(f)
		if err != nil {
			return nil, fmt.Errorf("read Argo CD manifest %s: %w", o.manifestFile, err)
		}
		return b, nil
	case o.manifestURL != "":
		return fetch(ctx, o.manifestURL)
	default:
		return fromModule(ctx, o.version)
	}
}

// fetch GETs url.
func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("get Argo CD manifest from %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get Argo CD manifest: %w", err) // *url.Error names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get Argo CD manifest from %s: %s", url, resp.Status)
	}
	b, err := readAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("get Argo CD manifest from %s: %w", url, err)
	}
	return b, nil
}

// fromModule reads the manifest from the zip of the Argo CD module at version, which the go command
// downloads and verifies.
func fromModule(ctx context.Context, version string) ([]byte, error) {
	if !semverRE.MatchString(version) {
		return nil, fmt.Errorf("Argo CD version %q: want a release tag such as %s", version, DefaultVersion)
	}
	module := "github.com/argoproj/argo-cd"
	if major := strings.SplitN(version, ".", 2)[0]; major != "v0" && major != "v1" {
		module += "/" + major // a Go module's path ends with its major version from v2 on
	}
	b, err := gomodule.ReadFile(ctx, module, version, manifestPath)
	if err != nil {
		return nil, fmt.Errorf("Argo CD manifest: %w", err)
	}
	return b, nil
}

// readAll reads r, failing when it holds more than maxManifestSize bytes.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err == nil && len(b) > maxManifestSize {
		err = fmt.Errorf("larger than %d MiB", maxManifestSize>>20)
	}
	return b, err
}
