package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// LoadImages puts each image that is in the local Docker engine into every node that does not hold
// that exact image yet, as `kind load docker-image` does, so that no pod waits on a registry. Images
// the local engine lacks are returned, not loaded: the nodes will pull those. Pre-pull them with
// `docker pull IMAGE` to have them preloaded.
func (c *Cluster) LoadImages(ctx context.Context, images ...string) (absent []string, err error) {
	nodeList, err := c.provider.ListInternalNodes(c.Name)
	if err != nil {
		return nil, fmt.Errorf("list nodes of cluster %q: %w", c.Name, err)
	}
	var toSave []string
	needs := map[nodes.Node][]string{}
	for _, img := range images {
		id, err := exec.Command(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", img).Output()
		if err != nil {
			absent = append(absent, img)
			continue
		}
		want := strings.TrimSpace(string(id))
		missing := false
		for _, n := range nodeList {
			if have, err := nodeutils.ImageID(n, img); err != nil || have != want {
				needs[n] = append(needs[n], img)
				missing = true
			}
		}
		if missing {
			toSave = append(toSave, img)
		}
	}
	if len(toSave) == 0 {
		return absent, nil
	}
	c.log.Info("Loading images into nodes", "images", toSave)
	dir, err := os.MkdirTemp("", "kindcluster-images-")
	if err != nil {
		return absent, err
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "images.tar")
	if err := exec.Command(ctx, "docker", append([]string{"save", "--output", archive}, toSave...)...).Run(); err != nil {
		return absent, fmt.Errorf("save images from the local Docker: %w", err)
	}
	// Into every node at once: the nodes import while docker's archive is read from the page cache.
	errs := make(chan error, len(needs))
	for n, imgs := range needs {
		go func() {
			if err := loadArchive(n, archive); err != nil {
				errs <- fmt.Errorf("load %s into node %s: %w", strings.Join(imgs, ", "), n.String(), err)
				return
			}
			errs <- nil
		}()
	}
	var failed []error
	for range needs {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	return absent, errors.Join(failed...)
}

func loadArchive(n nodes.Node, archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	return nodeutils.LoadImageArchive(n, f)
}
