package goimage

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// DefaultBase is the image the binary is put on: the one labkit's Dockerfile uses.
const DefaultBase = "gcr.io/distroless/static:nonroot"

// Build compiles the main package pkg of the Go module in dir for Linux on this machine's
// architecture, with cgo off, and builds the image tag of that binary alone on the base image, as
// /<binary name>, run as the base's non-root user (65532). With push it writes the image straight to
// the registry its name has, without Docker (see pushImage), once the base is there; without, it
// builds it in the local Docker daemon with docker build.
func Build(ctx context.Context, dir, pkg, tag string, opts ...Option) error {
	o := options{base: DefaultBase, out: os.Stderr}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if tag == "" {
		return fmt.Errorf("build image of %s: no image name given (skaffold sets $IMAGE)", pkg)
	}
	if o.push && registryOf(tag) == "" {
		// Docker would push it to Docker Hub: certainly not what a dev loop means.
		return fmt.Errorf("push image %s: its name has no registry to push it to; name one, e.g. skaffold dev --default-repo=localhost:5001 (make dev names the kind cluster's local registry)", tag)
	}
	tmp, err := os.MkdirTemp("", "goimage-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	name := path.Base(pkg)
	args := []string{"build", "-o", filepath.Join(tmp, name)}
	if o.strip {
		args = append(args, "-ldflags=-s -w") // no symbol table or DWARF: a third smaller, stack traces still whole
	}
	if o.gcflags != "" {
		args = append(args, "-gcflags="+o.gcflags) // skaffold debug's "all=-N -l": Delve can stop anywhere
	}
	build := exec.Command(ctx, "go", append(args, pkg)...)
	build.Dir = dir
	build.Env = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if err := build.Run(); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	fmt.Fprintf(o.out, "compiled %s\n", pkg)
	if o.push {
		digest, err := pushImage(ctx, filepath.Join(tmp, name), pkg, tag, tmp, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.out, "pushed image %s@%s\n", tag, digest)
		return nil
	}
	if err := dockerBuild(ctx, tmp, name, tag, o.base); err != nil {
		return err
	}
	fmt.Fprintf(o.out, "built image %s: %s on %s\n", tag, pkg, o.base)
	return nil
}

// dockerBuild builds the image tag in the local Docker daemon from the binary dir/name, for a build
// that is not pushed (skaffold build without a registry): there is no registry to write it to.
func dockerBuild(ctx context.Context, dir, name, tag, base string) error {
	dockerfile := strings.Join([]string{
		"FROM " + base,
		"COPY " + name + " /" + name,
		// Marks the image as a Go program for skaffold debug, as labkit's Dockerfile does.
		"ENV GOTRACEBACK=single",
		"USER 65532:65532",
		fmt.Sprintf("ENTRYPOINT [%q]", "/"+name),
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	img := exec.Command(ctx, "docker", "build",
		"--quiet", // the image ID only: the context is one file, there is nothing else to see
		"--tag", tag, dir)
	// The Docker engine's own builder, as skaffold.yaml asks: there may be no buildx.
	img.Env = []string{"DOCKER_BUILDKIT=0"}
	if err := img.Run(); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}

// registryOf is the registry host of an image name, as Docker reads it: the part before the first
// slash when it has a dot or a port or is localhost; "" for a Docker Hub name such as
// labkit-controller:dev.
func registryOf(image string) string {
	host, _, ok := strings.Cut(image, "/")
	if !ok || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		return ""
	}
	return host
}
