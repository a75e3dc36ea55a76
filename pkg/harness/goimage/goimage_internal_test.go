package goimage

import (
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestRegistryOf(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]string{
		"labkit-controller:dev":                    "",
		"library/busybox:1.35":                     "",
		"localhost:5001/labkit-controller:abc":     "localhost:5001",
		"localhost/labkit-controller":              "localhost",
		"gcr.io/distroless/static:nonroot":         "gcr.io",
		"labkit-registry:5000/labkit-controller:x": "labkit-registry:5000",
	} {
		if got := registryOf(image); got != want {
			t.Errorf("registryOf(%q) = %q, want %q", image, got, want)
		}
	}
}

// A push of a name without a registry is refused before anything is built: Docker would push it to
// Docker Hub.
func TestBuildRefusesToPushWithoutARegistry(t *testing.T) {
	t.Parallel()
	err := Build(context.Background(), t.TempDir(), "./cmd/none", "labkit-controller:dev", WithPush(true))
	if err == nil || !strings.Contains(err.Error(), "no registry to push it to") || !strings.Contains(err.Error(), "--default-repo") {
		t.Fatalf("Build with push of labkit-controller:dev: got %v, want an error saying it has no registry and naming --default-repo", err)
	}
}

// A registry that does not answer is named, with what starts the one make dev pushes to.
func TestPushToARegistryThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close() // nothing listens there now
	bin := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(bin, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = pushImage(context.Background(), bin, "./cmd/hello", host+"/hello:v1", t.TempDir(), options{base: host + "/base:v1", out: io.Discard})
	for _, want := range []string{"registry " + host + " does not answer", "`labkit-harness cluster up` starts the kind cluster's local registry"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("push to %s with nothing listening: got %v, want an error saying %q", host, err, want)
		}
	}
}

// A base that neither the registry nor the Docker daemon has is named, with how to get it.
func TestPushOnABaseThatIsNowhere(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	bin := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(bin, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	for base, want := range map[string]string{
		// In the registry pushed to: only the registry is asked.
		host + "/base/none:v1": "base image " + host + "/base/none:v1: not in registry " + host + "; push it there",
		// Elsewhere: the registry's copy, then the daemon.
		"example.invalid/none:v1": "base image example.invalid/none:v1: not yet in registry " + host + " (as " + host +
			"/labkit-base/example.invalid/none:v1), and not to be read from the local Docker daemon (`docker pull example.invalid/none:v1` puts it there)",
		"Not An Image": `base image "Not An Image": not an image name`,
	} {
		_, err := pushImage(context.Background(), bin, "./cmd/hello", host+"/hello:v1", t.TempDir(), options{base: base, out: io.Discard})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("push on base %s: got %v, want an error saying %q", base, err, want)
		}
	}
}

func TestMirrorOf(t *testing.T) {
	t.Parallel()
	reg, err := name.NewRegistry("localhost:5001")
	if err != nil {
		t.Fatal(err)
	}
	for base, want := range map[string]string{
		"gcr.io/distroless/static:nonroot": "localhost:5001/labkit-base/gcr.io/distroless/static:nonroot",
		"busybox":                          "localhost:5001/labkit-base/index.docker.io/library/busybox:latest",
		"gcr.io/distroless/static@sha256:0000000000000000000000000000000000000000000000000000000000000000": "localhost:5001/labkit-base/gcr.io/distroless/static:sha256-0000000000000000000000000000000000000000000000000000000000000000",
	} {
		src, err := name.ParseReference(base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := mirrorOf(reg, src)
		if err != nil || got.String() != want {
			t.Errorf("mirrorOf(%s) = %v, %v; want %s", base, got, err, want)
		}
	}
}

func TestNameOptionsSpeakHTTPToThisMachineOnly(t *testing.T) {
	t.Parallel()
	for reg, insecure := range map[string]bool{
		"localhost:5001": true, "localhost": true, "127.0.0.1:40000": true, "[::1]:5000": true,
		"gcr.io": false, "registry.example.com:5000": false, "10.1.2.3:5000": false,
	} {
		if got := len(nameOptions(reg)) > 0; got != insecure {
			t.Errorf("nameOptions(%q) allows HTTP: %v, want %v", reg, got, insecure)
		}
	}
}

// The same binary makes the same layer, whenever and wherever it was written.
func TestBinaryLayerIsDeterministic(t *testing.T) {
	t.Parallel()
	var digests []string
	for _, mode := range []os.FileMode{0o600, 0o755} {
		bin := filepath.Join(t.TempDir(), "hello")
		if err := os.WriteFile(bin, []byte("\x7fELF same bytes"), mode); err != nil {
			t.Fatal(err)
		}
		l, err := binaryLayer(bin, "hello", types.OCIUncompressedLayer)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("one binary, written at two times with two modes, made layers %s and %s: want one digest", digests[0], digests[1])
	}
}
