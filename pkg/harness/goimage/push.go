package goimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// MirrorRepository is the repository under which the target registry keeps a copy of a base image
// that came from the local Docker daemon, e.g. localhost:5001/labkit-base/gcr.io/distroless/static:nonroot.
// The copy is made by the first push to that registry; every later push finds it there and
// only checks that the base's blobs are in the target repository, which the registry answers
// without a byte of them crossing the wire.
const MirrorRepository = "labkit-base"

// layerEpoch is the modification time of the binary in its layer: fixed, so that the same binary
// always makes the same layer, and a rebuild that changed nothing pushes nothing.
var layerEpoch = time.Unix(0, 0)

// pushImage writes the image tag of the binary bin, compiled from pkg, as /<its file name> on
// o.base, straight to tag's registry, and returns its digest. It replaces docker build and docker push: those copy the binary into the
// daemon, then gzip it (about 3 s for the controller's 41 MB) to send it to a registry on this very
// machine. Here the binary is one uncompressed layer, sent once, and the base's layers stay where
// they are. tmp is a directory for the base image as `docker save` writes it, the first time.
func pushImage(ctx context.Context, bin, pkg, tag, tmp string, o options) (v1.Hash, error) {
	ref, err := name.ParseReference(tag, nameOptions(registryOf(tag))...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push image %s: not an image name (%w); want e.g. localhost:5001/labkit-controller:dev", tag, err)
	}
	ropts := remoteOptions(ctx)
	base, err := baseImage(ctx, ref.Context().Registry, o.base, tmp, o.out, ropts)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push image %s: %w", tag, err)
	}
	img, err := binaryImage(base, bin, filepath.Base(bin))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build image %s: %w", tag, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build image %s: %w", tag, err)
	}
	fmt.Fprintf(o.out, "built image %s: %s on %s\n", tag, pkg, o.base)
	if err := remote.Write(ref, img, ropts...); err != nil {
		return v1.Hash{}, fmt.Errorf("push image %s: %w", tag, registryError(ref.Context().RegistryStr(), err))
	}
	return digest, nil
}

// binaryImage is base with the binary bin added as /prog, run as the distroless non-root user, as
// labkit's Dockerfile has it: what the docker build of Build's Dockerfile makes.
func binaryImage(base v1.Image, bin, prog string) (v1.Image, error) {
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("base image's media type: %w", err)
	}
	// An OCI manifest lists OCI layers, a Docker one Docker layers: containerd takes either, but not
	// every registry or tool takes a mix.
	layerType := types.DockerUncompressedLayer
	if mt == types.OCIManifestSchema1 {
		layerType = types.OCIUncompressedLayer
	}
	layer, err := binaryLayer(bin, prog, layerType)
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		// What docker history shows, in the Dockerfile's words. No time: the digest stays the same.
		History: v1.History{CreatedBy: fmt.Sprintf("COPY %s /%s # labkit-harness image build", prog, prog)},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("base image's config: %w", err)
	}
	cf = cf.DeepCopy()
	// Marks the image as a Go program for skaffold debug, as labkit's Dockerfile does.
	cf.Config.Env = setEnv(cf.Config.Env, "GOTRACEBACK", "single")
	cf.Config.User = "65532:65532"
	cf.Config.Entrypoint = []string{"/" + prog}
	cf.Config.Cmd = nil // a base's CMD would become the program's arguments
	return mutate.ConfigFile(img, cf)
}

// binaryLayer is one uncompressed layer holding the file bin as /prog, mode 0755, owned by root as
// docker COPY leaves it, with a fixed time. Uncompressed: gzip would take longer than sending the
// bytes to a registry on this machine, and the nodes' containerd takes such layers as they are.
func binaryLayer(bin, prog string, mt types.MediaType) (v1.Layer, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(int(fi.Size()) + 2048) // a header, the padding and the end: one allocation
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     prog,
		Mode:     0o755,
		Size:     fi.Size(),
		ModTime:  layerEpoch,
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return nil, fmt.Errorf("layer of %s: %w", bin, err)
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, fmt.Errorf("layer of %s: %w", bin, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer of %s: %w", bin, err)
	}
	return static.NewLayer(b.Bytes(), mt), nil
}

// setEnv sets key=value in env, in place of an earlier value of key.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// baseImage is the image base as the registry reg holds it, so that its layers are blobs there
// already. A base named in reg is read from reg. Any other is read from the mirror MirrorRepository
// in reg, which the first call fills from the local Docker daemon (`docker save`): later calls find
// the mirror and touch neither the daemon nor the base's bytes. The mirror is named after the base,
// so a base pulled anew under the same name keeps its first copy until the registry goes (make
// cluster-down).
func baseImage(ctx context.Context, reg name.Registry, base, tmp string, out io.Writer, ropts []remote.Option) (v1.Image, error) {
	src, err := name.ParseReference(base, nameOptions(registryOf(base))...)
	if err != nil {
		return nil, fmt.Errorf("base image %q: not an image name (%w); want e.g. %s", base, err, DefaultBase)
	}
	if src.Context().RegistryStr() == reg.RegistryStr() {
		img, err := remote.Image(src, ropts...)
		if isNotFound(err) {
			return nil, fmt.Errorf("base image %s: not in registry %s; push it there, or name a base that the local Docker daemon has", base, reg.RegistryStr())
		}
		if err != nil {
			return nil, fmt.Errorf("base image %s: %w", base, registryError(reg.RegistryStr(), err))
		}
		return img, nil
	}
	mirror, err := mirrorOf(reg, src)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", base, err)
	}
	img, err := remote.Image(mirror, ropts...)
	if err == nil {
		return img, nil
	}
	if !isNotFound(err) {
		return nil, fmt.Errorf("base image %s, as %s: %w", base, mirror, registryError(reg.RegistryStr(), err))
	}
	saved := filepath.Join(tmp, "base.tar")
	if err := exec.Command(ctx, "docker", "save", "--output", saved, base).Run(); err != nil {
		return nil, fmt.Errorf("base image %s: not yet in registry %s (as %s), and not to be read from the local Docker daemon (`docker pull %s` puts it there): %w",
			base, reg.RegistryStr(), mirror, base, err)
	}
	local, err := tarball.ImageFromPath(saved, nil)
	if err != nil {
		return nil, fmt.Errorf("base image %s, as docker save wrote it: %w", base, err)
	}
	if err := remote.Write(mirror, local, ropts...); err != nil {
		return nil, fmt.Errorf("copy base image %s to %s: %w", base, mirror, registryError(reg.RegistryStr(), err))
	}
	fmt.Fprintf(out, "copied base image %s from the local Docker daemon to %s\n", base, mirror)
	// Read back from the registry, so that its layers are mounted from the mirror into the target
	// repository rather than sent again.
	img, err = remote.Image(mirror, ropts...)
	if err != nil {
		return nil, fmt.Errorf("base image %s, as %s: %w", base, mirror, registryError(reg.RegistryStr(), err))
	}
	return img, nil
}

// mirrorOf is where registry reg keeps its copy of the base src: MirrorRepository, then src's
// registry and repository, at src's tag; a base named by digest gets the tag sha256-<hex>, since its
// copy from the daemon has a digest of its own (docker save gives the layers uncompressed).
func mirrorOf(reg name.Registry, src name.Reference) (name.Tag, error) {
	tag := src.Identifier()
	if d, ok := src.(name.Digest); ok {
		tag = strings.Replace(d.DigestStr(), ":", "-", 1)
	}
	repo := MirrorRepository + "/" + src.Context().RegistryStr() + "/" + src.Context().RepositoryStr()
	return name.NewTag(reg.RegistryStr()+"/"+repo+":"+tag, nameOptions(reg.RegistryStr())...)
}

// nameOptions lets a registry on this machine (localhost, 127.0.0.0/8, ::1) be spoken to over plain
// HTTP, as Docker does by default and as kind's local registry requires; any other registry gets
// HTTPS.
func nameOptions(registry string) []name.Option {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	if host == "localhost" {
		return []name.Option{name.Insecure}
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.IsLoopback() {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOptions are the registry client's: credentials as docker login left them (a local registry
// needs none), and this machine's platform, which is the binary's.
func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
	}
}

// isNotFound says whether err is a registry's answer that it has no such manifest.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// registryError says which registry did not answer and what starts the one make dev uses.
func registryError(registry string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("registry %s does not answer: %w; is it running? `labkit-harness cluster up` starts the kind cluster's local registry (`labkit-harness cluster registry` prints its address)", registry, err)
	}
	return fmt.Errorf("registry %s: %w", registry, err)
}
