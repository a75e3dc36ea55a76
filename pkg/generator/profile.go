package generator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Profile holds a person's defaults for labctl: what their labs usually look like and where they are
// published. It has no field for a password, hash or token, and loading refuses unknown fields, so a
// secret can never be saved in it.
type Profile struct {
	Namespace       string `json:"namespace,omitempty"`
	Owner           string `json:"owner,omitempty"`
	Image           string `json:"image,omitempty"`
	GPU             string `json:"gpu,omitempty"`
	CPU             string `json:"cpu,omitempty"`
	Memory          string `json:"memory,omitempty"`
	Storage         string `json:"storage,omitempty"`
	StorageClass    string `json:"storageClass,omitempty"`
	ImagePullSecret string `json:"imagePullSecret,omitempty"`

	// Repo is the Git remote labctl pushes to; Branch the branch; RepoURL the repository as Argo CD
	// reaches it, when that differs from Repo.
	Repo    string `json:"repo,omitempty"`
	Branch  string `json:"branch,omitempty"`
	RepoURL string `json:"repoURL,omitempty"`
}

// Request is the profile's lab defaults as a request.
func (p Profile) Request() Request {
	return Request{Namespace: p.Namespace, Owner: p.Owner, Image: p.Image, GPU: p.GPU, CPU: p.CPU, Memory: p.Memory,
		Storage: p.Storage, StorageClass: p.StorageClass, ImagePullSecret: p.ImagePullSecret}
}

// DefaultProfilePath is $XDG_CONFIG_HOME/labkit/profile.yaml (~/.config/labkit/profile.yaml).
func DefaultProfilePath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "labkit", "profile.yaml")
}

// LoadProfile reads a profile; a missing file is an empty profile.
func LoadProfile(path string) (Profile, error) {
	var p Profile
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read profile: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return p, fmt.Errorf("profile %s: %w (a profile holds defaults only, never a password or token)", path, err)
	}
	return p, nil
}

// Save writes the profile, readable only by its owner, creating its folder.
func (p Profile) Save(path string) error {
	data, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}
