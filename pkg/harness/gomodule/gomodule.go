package gomodule

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// maxFileSize bounds one file read from a module.
const maxFileSize = 64 << 20

// ReadFile returns the file at path (slash-separated, from the module's root) of module@version. The
// go command downloads the module's zip into its module cache (or finds it there, offline) and checks
// it against the checksum database as for any dependency, so the file is exactly the published one.
func ReadFile(ctx context.Context, module, version, path string) ([]byte, error) {
	mv := module + "@" + version
	dir, err := os.MkdirTemp("", "gomodule-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(ctx, "go", "mod", "download",
		"-json", // report the module's zip, checksum and error as JSON
		mv)
	cmd.Dir = dir // outside any module: no go.mod or go.sum is read or written
	cmd.Env = []string{
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		// The module may require a newer Go than the one running; its files are only read here, so
		// never download a toolchain for it. The go command then reports an error for the module,
		// but only after it has downloaded and verified the zip, which is all that is needed.
		"GOTOOLCHAIN=local",
	}
	out, runErr := cmd.Output()
	var m struct{ Zip, Sum, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Zip == "" || m.Sum == "" {
		cause := errors.Join(runErr, err)
		if m.Error != "" { // the go command's reason, such as a module not found offline
			cause = errors.New(m.Error)
		}
		return nil, fmt.Errorf("download Go module %s: %w", mv, cause)
	}
	zr, err := zip.OpenReader(m.Zip)
	if err != nil {
		return nil, fmt.Errorf("open Go module %s: %w", mv, err)
	}
	defer zr.Close()
	name := mv + "/" + path
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", name, m.Zip, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", name, m.Zip, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read %s from %s: larger than %d bytes", name, m.Zip, maxFileSize)
	}
	return b, nil
}
