package goimage

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// benchBinarySize is about the stripped controller's size: what make dev pushes on every edit.
const benchBinarySize = 40 << 20

// BenchmarkPushBinary times what make dev does with a compiled binary of the controller's size, to
// the registry: the go build before it is left out, being the same either way. Each push has a
// binary that differs from the last one (in its last bytes), as after an edit. The sub-benchmarks:
//
//   - ggcr/in-process: pushImage to ggcr's registry in this process: no Docker needed.
//   - ggcr/registry2: pushImage to a registry:2 container, as kind's local registry is.
//   - docker/registry2: what Build did before: docker build of the binary on distroless, then docker
//     push to the same registry:2 container.
//
// The ones that need Docker are skipped without it. Keep -benchtime small (e.g. 5x): each push
// sends 40 MB.
func BenchmarkPushBinary(b *testing.B) {
	ctx := context.Background()
	bin := benchBinary(b)
	dockerErr := exec.Command(ctx, "docker", "image", "inspect", DefaultBase, benchRegistryImage).Run()

	b.Run("ggcr/in-process", func(b *testing.B) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		b.Cleanup(srv.Close)
		host := strings.TrimPrefix(srv.URL, "http://")
		base, err := random.Image(1<<20, 1)
		if err != nil {
			b.Fatal(err)
		}
		baseRef := host + "/base/random:v1"
		if err := remote.Write(must(name.ParseReference(baseRef)), base); err != nil {
			b.Fatal(err)
		}
		benchPush(b, bin, host, options{base: baseRef, out: io.Discard})
	})
	b.Run("ggcr/registry2", func(b *testing.B) {
		if dockerErr != nil {
			b.Skipf("needs a Docker daemon with %s and %s: %v", DefaultBase, benchRegistryImage, dockerErr)
		}
		benchPush(b, bin, startRegistryContainer(b), options{base: DefaultBase, out: io.Discard})
	})
	b.Run("docker/registry2", func(b *testing.B) {
		if dockerErr != nil {
			b.Skipf("needs a Docker daemon with %s and %s: %v", DefaultBase, benchRegistryImage, dockerErr)
		}
		tag := startRegistryContainer(b) + "/goimage-bench/docker:latest"
		dir := b.TempDir()
		b.Cleanup(func() { _ = exec.Command(ctx, "docker", "image", "rm", "--force", tag).Run() })
		push := func(i int) {
			b.StopTimer()
			edit(b, bin, filepath.Join(dir, "bench"), i)
			// The image of the last push goes: no image is left behind per push.
			_ = exec.Command(ctx, "docker", "image", "rm", tag).Run()
			b.StartTimer()
			if err := dockerBuild(ctx, dir, "bench", tag, DefaultBase); err != nil {
				b.Fatal(err)
			}
			if err := exec.Command(ctx, "docker", "push", tag).Run(); err != nil {
				b.Fatal(err)
			}
		}
		push(-1) // the base's layers go to the registry, outside the timer, as for ggcr
		for i := 0; b.Loop(); i++ {
			push(i)
		}
		b.SetBytes(benchBinarySize)
	})
}

// benchRegistryImage is the registry the benchmark runs in a container: the one kindcluster runs as
// a cluster's local registry.
const benchRegistryImage = "registry:2"

// benchPush times pushImage of an edited binary to the registry host, the base having been put
// there by a first push outside the timer (as by make dev's first build).
func benchPush(b *testing.B, bin []byte, host string, o options) {
	ctx := context.Background()
	dir := b.TempDir()
	file := filepath.Join(dir, "bench")
	tag := host + "/goimage-bench/ggcr:latest"
	edit(b, bin, file, -1)
	if _, err := pushImage(ctx, file, "./cmd/bench", tag, dir, o); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		edit(b, bin, file, i)
		b.StartTimer()
		if _, err := pushImage(ctx, file, "./cmd/bench", tag, dir, o); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(benchBinarySize)
}

// benchBinary is benchBinarySize bytes that compress as a Go binary does: the Go toolchain's own
// binaries, repeated. (Random bytes would not compress at all, which would flatter docker push.)
func benchBinary(b *testing.B) []byte {
	b.Helper()
	tools, err := filepath.Glob(filepath.Join(runtime.GOROOT(), "pkg", "tool", runtime.GOOS+"_"+runtime.GOARCH, "*"))
	if err != nil || len(tools) == 0 {
		b.Fatalf("no Go tool binaries in GOROOT %s to make a binary of (%v)", runtime.GOROOT(), err)
	}
	out := make([]byte, 0, benchBinarySize)
	for len(out) < benchBinarySize {
		for _, tool := range tools {
			data, err := os.ReadFile(tool)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, data[:min(len(data), benchBinarySize-len(out))]...)
		}
	}
	return out
}

// edit writes bin to file with its last 8 bytes set from i: a new binary, as after an edit.
func edit(b *testing.B, bin []byte, file string, i int) {
	b.Helper()
	binary.BigEndian.PutUint64(bin[len(bin)-8:], uint64(i))
	if err := os.WriteFile(file, bin, 0o755); err != nil {
		b.Fatal(err)
	}
}

// startRegistryContainer runs a registry:2 container on a free loopback port, removed when b ends,
// and returns its host:port once it answers.
func startRegistryContainer(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	container := "goimage-test-registry-" + strings.ToLower(rand.Text())
	if err := exec.Command(ctx, "docker", "run", "--detach", "--name", container, "--publish", "127.0.0.1::5000", benchRegistryImage).Run(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = exec.Command(ctx, "docker", "rm", "--force", "--volumes", container).Run() })
	out, err := exec.Command(ctx, "docker", "port", container, "5000/tcp").Output()
	if err != nil {
		b.Fatal(err)
	}
	host := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	// The registry answers /v2/ once it listens: wait for that, for at most 30 s.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("registry container %s at %s: no answer on /v2/ after 30 s (last error: %v)", container, host, err)
		}
		<-tick.C
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
