package goimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/labkit-dev/labkit/pkg/harness/goimage"
	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// testRegistry is ggcr's registry (a whole OCI distribution implementation, in memory) on a
// loopback port, with a log of the requests it answered, to tell what a push sent.
type testRegistry struct {
	host string // 127.0.0.1:port, as an image name starts

	mu       sync.Mutex
	requests []string // "METHOD /v2/..."
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	r := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// mark is where the request log is now, for since.
func (r *testRegistry) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// since is the requests answered after mark that match method and a path with part in it.
func (r *testRegistry) since(mark int, method, part string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, req := range r.requests[mark:] {
		if m, path, _ := strings.Cut(req, " "); m == method && strings.Contains(path, part) {
			out = append(out, req)
		}
	}
	return out
}

// blobUploads is how many blob uploads were started after mark: each is a POST, whatever follows.
func (r *testRegistry) blobUploads(mark int) int {
	return len(r.since(mark, http.MethodPost, "/blobs/uploads/"))
}

// pushBase puts img in the registry as repo:tag, as a base that the test names with WithBase.
func (r *testRegistry) pushBase(t testing.TB, repo string, img v1.Image) string {
	t.Helper()
	ref := r.host + "/" + repo
	if err := remote.Write(must(name.ParseReference(ref)), img); err != nil {
		t.Fatalf("push base %s: %v", ref, err)
	}
	return ref
}

// writeProgram writes a Go module in a new directory with the main package ./cmd/hello, which prints
// message, its user ID and $GOTRACEBACK, and returns the directory.
func writeProgram(t testing.TB, message string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": `package main

import (
	"fmt"
	"os"
)

func main() { fmt.Printf("` + message + ` uid=%d GOTRACEBACK=%s\n", os.Getuid(), os.Getenv("GOTRACEBACK")) }
`,
	}
	for file, text := range files {
		path := filepath.Join(dir, file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var pushedRE = regexp.MustCompile(`(?m)^pushed image (\S+)@(sha256:[0-9a-f]{64})$`)

// build runs Build with push and returns the digest it says it pushed and what it printed.
func build(t *testing.T, dir, tag string, opts ...goimage.Option) (string, string) {
	t.Helper()
	var out bytes.Buffer
	opts = append(opts, goimage.WithPush(true), goimage.WithStrip(true), goimage.WithOutput(&out))
	if err := goimage.Build(context.Background(), dir, "./cmd/hello", tag, opts...); err != nil {
		t.Fatalf("Build of %s: %v", tag, err)
	}
	for _, want := range []string{"compiled ./cmd/hello\n", "built image " + tag + ": ./cmd/hello on "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Build of %s printed %q, want it to say %q", tag, out.String(), want)
		}
	}
	m := pushedRE.FindStringSubmatch(out.String())
	if m == nil || m[1] != tag {
		t.Fatalf("Build of %s printed %q, want a line \"pushed image %s@sha256:...\"", tag, out.String(), tag)
	}
	return m[2], out.String()
}

// checkImage reads the image ref back from the registry and checks what Build promises of it: the
// binary alone as /hello, executable, in one uncompressed layer of type layerType on top of the
// base's nBase layers, and the config skaffold and the cluster go by.
func checkImage(t *testing.T, ref string, nBase int, layerType types.MediaType) {
	t.Helper()
	img, err := remote.Image(must(name.ParseReference(ref)))
	if err != nil {
		t.Fatalf("read back %s: %v", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cf.Config.Entrypoint, []string{"/hello"}; !slices.Equal(got, want) {
		t.Errorf("%s: entrypoint %q, want %q", ref, got, want)
	}
	if cf.Config.Cmd != nil {
		t.Errorf("%s: cmd %q, want none (it would become the program's arguments)", ref, cf.Config.Cmd)
	}
	if got, want := cf.Config.User, "65532:65532"; got != want {
		t.Errorf("%s: user %q, want %q", ref, got, want)
	}
	var tracebacks []string
	for _, kv := range cf.Config.Env {
		if strings.HasPrefix(kv, "GOTRACEBACK=") {
			tracebacks = append(tracebacks, kv)
		}
	}
	if !slices.Equal(tracebacks, []string{"GOTRACEBACK=single"}) {
		t.Errorf("%s: env %q, want GOTRACEBACK=single once (skaffold debug tells a Go program by it)", ref, cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != nBase+1 {
		t.Fatalf("%s: %d layers, want the base's %d and the binary's", ref, len(layers), nBase)
	}
	top := layers[len(layers)-1]
	if mt, err := top.MediaType(); err != nil || mt != layerType {
		t.Errorf("%s: the binary's layer is a %q (%v), want %q", ref, mt, err, layerType)
	}
	if digest, _ := top.Digest(); true {
		if diffID, _ := top.DiffID(); digest != diffID {
			t.Errorf("%s: the binary's layer has digest %s and diff ID %s: want them equal, for an uncompressed layer", ref, digest, diffID)
		}
	}
	rc, err := top.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatalf("%s: the binary's layer: %v", ref, err)
	}
	if hdr.Name != "hello" || hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(time.Unix(0, 0)) {
		t.Errorf("%s: the layer holds %q (type %c, mode %o, owner %d:%d, time %v), want the file hello, mode 755, owned by root, at the Unix epoch",
			ref, hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime)
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(tr, magic); err != nil || string(magic) != "\x7fELF" {
		t.Errorf("%s: /hello starts with %q (%v), want an ELF binary", ref, magic, err)
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		t.Fatal(err)
	}
	if next, err := tr.Next(); err != io.EOF {
		t.Errorf("%s: the binary's layer holds more than /hello: %v %v", ref, next, err)
	}
}

// The push path on a base in the registry itself: no Docker daemon. A rebuild of the same source
// pushes the same digest and sends no blob; a changed one sends the binary's layer and the config,
// never the base's layers.
func TestBuildPushesStraightToTheRegistry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		manifest, layer types.MediaType
	}{
		{types.DockerManifestSchema2, types.DockerUncompressedLayer},
		{types.OCIManifestSchema1, types.OCIUncompressedLayer},
	} {
		t.Run(string(tc.manifest), func(t *testing.T) {
			t.Parallel()
			reg := startRegistry(t)
			base, err := random.Image(1024, 2)
			if err != nil {
				t.Fatal(err)
			}
			base = mutate.MediaType(base, tc.manifest)
			if tc.manifest == types.OCIManifestSchema1 {
				base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
			}
			// What a base may set that the image must not keep: another GOTRACEBACK, a CMD.
			base, err = mutate.Config(base, v1.Config{Env: []string{"PATH=/bin", "GOTRACEBACK=all"}, Cmd: []string{"/bin/sh"}, User: "0"})
			if err != nil {
				t.Fatal(err)
			}
			baseRef := reg.pushBase(t, "base/random:v1", base)
			dir := writeProgram(t, "hello")
			tag := reg.host + "/goimage-test/hello:v1"

			first, _ := build(t, dir, tag, goimage.WithBase(baseRef))
			checkImage(t, tag, 2, tc.layer)

			mark := reg.mark()
			again, _ := build(t, dir, tag, goimage.WithBase(baseRef))
			if again != first {
				t.Errorf("the same source pushed as %s, then as %s: want one digest", first, again)
			}
			if n := reg.blobUploads(mark); n != 0 {
				t.Errorf("pushing the same binary again started %d blob uploads, want none", n)
			}
			if puts := reg.since(mark, http.MethodPut, "/manifests/"); len(puts) != 0 {
				t.Errorf("pushing the same binary again put manifests %q, want none", puts)
			}

			if err := os.WriteFile(filepath.Join(dir, "cmd/hello/main.go"), bytes.ReplaceAll(must(os.ReadFile(filepath.Join(dir, "cmd/hello/main.go"))), []byte("hello"), []byte("edited")), 0o644); err != nil {
				t.Fatal(err)
			}
			mark = reg.mark()
			edited, _ := build(t, dir, tag, goimage.WithBase(baseRef))
			if edited == first {
				t.Errorf("an edited source pushed as %s, the digest of the first: want a new one", edited)
			}
			// The binary's layer and the config: the base's two layers are there already.
			if n := reg.blobUploads(mark); n != 2 {
				t.Errorf("pushing an edited binary started %d blob uploads, want 2 (its layer and the config)", n)
			}
			checkImage(t, tag, 2, tc.layer)
		})
	}
}

// An empty base works too: the layer is then the image's only one.
func TestBuildPushesOnAnEmptyBase(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	baseRef := reg.pushBase(t, "base/empty:v1", empty.Image)
	tag := reg.host + "/goimage-test/hello:empty"
	build(t, writeProgram(t, "hello"), tag, goimage.WithBase(baseRef))
	checkImage(t, tag, 0, types.DockerUncompressedLayer)
}

// The path make dev takes: distroless from the local Docker daemon, copied to the registry by the
// first push only; a second push reads no daemon (there is none to read). The image then runs in
// Docker, pulled from the registry, as the non-root user with GOTRACEBACK=single.
func TestBuildCopiesTheBaseFromDockerOnce(t *testing.T) {
	if err := exec.Command(context.Background(), "docker", "image", "inspect", goimage.DefaultBase).Run(); err != nil {
		t.Skipf("needs a Docker daemon with %s (docker pull %s): %v", goimage.DefaultBase, goimage.DefaultBase, err)
	}
	reg := startRegistry(t)
	dir := writeProgram(t, "hello")
	tag := reg.host + "/goimage-test/hello:distroless"
	_, out := build(t, dir, tag)
	mirror := reg.host + "/labkit-base/gcr.io/distroless/static:nonroot"
	if want := "copied base image " + goimage.DefaultBase + " from the local Docker daemon to " + mirror + "\n"; !strings.Contains(out, want) {
		t.Errorf("the first Build printed %q, want it to say %q", out, want)
	}
	base, err := remote.Image(must(name.ParseReference(mirror)))
	if err != nil {
		t.Fatalf("the base's copy %s: %v", mirror, err)
	}
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, tag, len(baseLayers), types.DockerUncompressedLayer)

	// Docker pulls it as the nodes' containerd would, and runs it.
	run, err := exec.Command(context.Background(), "docker", "run", "--rm", tag).Output()
	t.Cleanup(func() { _ = exec.Command(context.Background(), "docker", "image", "rm", tag).Run() })
	if err != nil {
		t.Fatalf("docker run %s: %v", tag, err)
	}
	if got, want := strings.TrimSpace(string(run)), "hello uid=65532 GOTRACEBACK=single"; got != want {
		t.Errorf("docker run %s printed %q, want %q", tag, got, want)
	}

	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	mark := reg.mark()
	_, out = build(t, dir, reg.host+"/goimage-test/hello:again")
	if strings.Contains(out, "copied base image") {
		t.Errorf("the second Build printed %q: it copied the base again", out)
	}
	if n := reg.blobUploads(mark); n != 0 {
		t.Errorf("the second Build, of the same binary to another tag, started %d blob uploads, want none", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Without push, as before: docker build into the local daemon, the same config.
func TestBuildWithoutPushBuildsInDocker(t *testing.T) {
	t.Parallel()
	if err := exec.Command(context.Background(), "docker", "image", "inspect", goimage.DefaultBase).Run(); err != nil {
		t.Skipf("needs a Docker daemon with %s (docker pull %s): %v", goimage.DefaultBase, goimage.DefaultBase, err)
	}
	tag := "goimage-test/hello:" + strings.ToLower(rand.Text()) // no other run's
	var out bytes.Buffer
	err := goimage.Build(context.Background(), writeProgram(t, "hello"), "./cmd/hello", tag, goimage.WithOutput(&out))
	t.Cleanup(func() { _ = exec.Command(context.Background(), "docker", "image", "rm", tag).Run() })
	if err != nil {
		t.Fatalf("Build of %s: %v", tag, err)
	}
	if want := "built image " + tag + ": ./cmd/hello on " + goimage.DefaultBase + "\n"; !strings.HasSuffix(out.String(), want) || strings.Contains(out.String(), "pushed") {
		t.Errorf("Build of %s printed %q, want it to end with %q and push nothing", tag, out.String(), want)
	}
	cfg, err := exec.Command(context.Background(), "docker", "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{.Config.User}} {{json .Config.Env}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cfg); !strings.HasPrefix(got, `["/hello"] 65532:65532 `) || !strings.Contains(got, `"GOTRACEBACK=single"`) {
		t.Errorf("docker image inspect %s: %s, want entrypoint /hello, user 65532:65532, GOTRACEBACK=single", tag, got)
	}
}
