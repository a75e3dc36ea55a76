package manifests

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

//go:embed kustomization.yaml crd/*.yaml rbac/*.yaml controller/*.yaml
var files embed.FS

// DefaultImage is the controller image named in the manifests; skaffold replaces it with the image it built.
const DefaultImage = "labkit-controller"

const (
	deploymentFile         = "controller/deployment.yaml"
	clusterRoleBindingFile = "controller/clusterrolebinding.yaml"
)

var (
	imageLine = regexp.MustCompile(`(?m)^(\s+image: )` + regexp.QuoteMeta(DefaultImage) + `$`)
	// argsLine is the controller container's args, and the indentation of its first item.
	argsLine = regexp.MustCompile(`(?m)^\s+args:\n(\s+- )`)
)

// An InstallOption changes what Install returns.
type InstallOption interface{ apply(*installOptions) }

type installOptions struct {
	image      string
	namespaces []string
}

type installOptionFunc func(*installOptions)

func (f installOptionFunc) apply(o *installOptions) { f(o) }

// WithImage sets the controller image; empty keeps DefaultImage, which skaffold replaces.
func WithImage(image string) InstallOption {
	return installOptionFunc(func(o *installOptions) { o.image = image })
}

// WithWatchNamespaces scopes the controller to the given namespaces: the ClusterRole is bound in each of
// them by a RoleBinding instead of in every namespace by the ClusterRoleBinding, and the controller runs
// with --watch-namespaces, so it lists and watches nothing cluster-wide. The namespaces must exist
// before the manifests are applied. None: every namespace, as without the option.
func WithWatchNamespaces(namespaces ...string) InstallOption {
	return installOptionFunc(func(o *installOptions) { o.namespaces = append(o.namespaces, namespaces...) })
}

// Install returns the install manifests as one multi-document YAML stream, in the order of
// kustomization.yaml.
func Install(opts ...InstallOption) ([]byte, error) {
	o := installOptions{}
	for _, opt := range opts {
		opt.apply(&o)
	}
	namespaces, err := watchNamespaces(o.namespaces)
	if err != nil {
		return nil, err
	}
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
		switch {
		case name == deploymentFile:
			if data, err = controllerDeployment(data, o.image, namespaces); err != nil {
				return nil, fmt.Errorf("manifest %s: %w", name, err)
			}
		case name == clusterRoleBindingFile && len(namespaces) > 0:
			bindings, err := roleBindings(data, namespaces)
			if err != nil {
				return nil, fmt.Errorf("manifest %s: %w", name, err)
			}
			for i, b := range bindings {
				fmt.Fprintf(&out, "---\n# Source: %s, as a RoleBinding in namespace %s\n%s\n", name, namespaces[i], b)
			}
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, data)
	}
	return out.Bytes(), nil
}

// watchNamespaces checks the names and drops repeats.
func watchNamespaces(names []string) ([]string, error) {
	var out []string
	for _, ns := range names {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return nil, fmt.Errorf("watch namespace %q is not a namespace name (%s): give names such as team-a",
				ns, strings.Join(msgs, "; "))
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out, nil
}

// controllerDeployment sets the image of the controller's Deployment and, with namespaces, its
// --watch-namespaces flag.
func controllerDeployment(data []byte, image string, namespaces []string) ([]byte, error) {
	if image != "" {
		if !imageLine.Match(data) {
			return nil, fmt.Errorf("names no image %q to replace", DefaultImage)
		}
		data = imageLine.ReplaceAll(data, []byte("${1}"+image))
	}
	if len(namespaces) > 0 {
		if !argsLine.Match(data) {
			return nil, fmt.Errorf("has no container args to add --watch-namespaces to")
		}
		flag := "--watch-namespaces=" + strings.Join(namespaces, ",")
		data = argsLine.ReplaceAll(data, []byte("${0}"+flag+"\n${1}"))
	}
	return data, nil
}

// roleBindings turns the ClusterRoleBinding into one RoleBinding of the same name, role and subjects
// per namespace.
func roleBindings(data []byte, namespaces []string) ([][]byte, error) {
	var binding map[string]any
	if err := yaml.Unmarshal(data, &binding); err != nil {
		return nil, err
	}
	if binding["kind"] != "ClusterRoleBinding" {
		return nil, fmt.Errorf("holds a %v, want the ClusterRoleBinding", binding["kind"])
	}
	meta, ok := binding["metadata"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the ClusterRoleBinding has no metadata")
	}
	var out [][]byte
	for _, ns := range namespaces {
		binding["kind"] = "RoleBinding"
		meta["namespace"] = ns
		b, err := yaml.Marshal(binding)
		if err != nil {
			return nil, err
		}
		out = append(out, bytes.TrimSpace(b))
	}
	return out, nil
}

// CRD returns the JupyterLab CustomResourceDefinition.
func CRD() []byte {
	data, err := fs.ReadFile(files, "crd/labkit.dev_jupyterlabs.yaml")
	if err != nil { // embedded at build time
		panic(err)
	}
	return data
}
