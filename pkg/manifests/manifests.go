package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"

	"sigs.k8s.io/yaml"
)

//go:embed kustomization.yaml crd/*.yaml rbac/*.yaml controller/*.yaml
var files embed.FS

// DefaultImage is the controller image named in the manifests; skaffold replaces it with the image it built.
const DefaultImage = "labkit-controller"

var imageLine = regexp.MustCompile(`(?m)^(\s+image: )` + regexp.QuoteMeta(DefaultImage) + `$`)

// Install returns the install manifests as one multi-document YAML stream. A non-empty image replaces
// the controller image.
func Install(image string) ([]byte, error) {
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	data, err := fs.ReadFile(files, "kustomization.yaml")
	if err != nil {
		return nil, fmt.Errorf("read manifest list: %w", err)
	}
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		return nil, fmt.Errorf("parse kustomization.yaml: %w", err)
	}
	var out bytes.Buffer
	// Kustomize applies resources in the order they are listed, and so does this.
	for _, name := range kustomization.Resources {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", name, err)
		}
		data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("---\n"))
		if image != "" && name == "controller/deployment.yaml" {
			if !imageLine.Match(data) {
				return nil, fmt.Errorf("manifest %s names no image %q to replace", name, DefaultImage)
			}
			data = imageLine.ReplaceAll(data, []byte("${1}"+image))
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, data)
	}
	return out.Bytes(), nil
}

// CRD returns the JupyterLab CustomResourceDefinition.
func CRD() []byte {
	data, err := fs.ReadFile(files, "crd/labkit.dev_jupyterlabs.yaml")
	if err != nil { // embedded at build time
		panic(err)
	}
	return data
}
