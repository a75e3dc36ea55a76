package generator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/gitops"
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
	// Track is the branch Argo CD follows when Branch is a proposal to merge into it; Environment
	// makes Branch an environment of its own (Target says more).
	Track       string `json:"track,omitempty"`
	Environment bool   `json:"environment,omitempty"`
}

// A ProfileField is one value a profile holds: its labctl flag, its place in a Profile and, for a
// lab default, in a Request (nil for where labs are published). ProfileFields lists them once, for
// everything that reads, checks or writes them.
type ProfileField struct {
	Flag, Usage string
	Profile     func(*Profile) *string
	Request     func(*Request) *string
}

// ProfileFields are the profile's string values, in the order help lists them: the lab defaults of
// RequestFields, then where labs are published.
var ProfileFields = profileFields()

// Request is the profile's lab defaults as a request.
func (p Profile) Request() Request {
	var r Request
	for _, f := range ProfileFields {
		if f.Request != nil {
			*f.Request(&r) = *f.Profile(&p)
		}
	}
	return r
}

// Set sets the values of p that are not empty in from.
func (p *Profile) Set(from Profile) {
	for _, f := range ProfileFields {
		if v := *f.Profile(&from); v != "" {
			*f.Profile(p) = v
		}
	}
}

// Validate checks the values the profile has the way Build would check them in a request, so that a
// value create would refuse is refused when it is saved; a value left out is not checked. Which GPU
// models there are is not checked: that is the cluster's to say when a lab is created.
func (p Profile) Validate() error {
	var errs []error
	for _, f := range ProfileFields {
		if v := *f.Profile(&p); v != "" {
			if err := ValidateField(f.Flag, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return &ProfileError{Errs: errs}
	}
	return nil
}

// ValidateField checks one value of a request or profile, named by its labctl flag (name, namespace,
// owner, gpu, cpu, memory, storage, shm, image-pull-secret, repo, branch, track), as Build and Validate check
// it: for a person answering one question at a time. Other flags are not checked here.
func ValidateField(flag, v string) error {
	var errs []error
	switch flag {
	case "name":
		checkName(&errs, "name", v)
	case "namespace":
		checkNamespace(&errs, "--namespace", v)
	case "owner":
		checkLabel(&errs, "--owner", v)
	case "gpu":
		if _, _, err := ParseGPU(v); err != nil {
			errs = append(errs, err)
		}
	case "cpu":
		quantity(&errs, "--cpu", v, `"8" or "500m"`)
	case "memory":
		size(&errs, "--memory", v, MinMemory, whyMinMemory)
	case "storage":
		size(&errs, "--storage", v, MinStorage, whyMinStorage)
	case "shm":
		size(&errs, "--shm", v, MinShm, whyMinShm)
	case "image-pull-secret":
		if len(validation.IsDNS1123Subdomain(v)) > 0 {
			errs = append(errs, fmt.Errorf("--image-pull-secret %q is not the name of a Secret (a named set of keys in the cluster): use lower-case letters, digits, '-' and '.'", v))
		}
	case "repo":
		if err := gitops.CheckRemote(v); err != nil {
			errs = append(errs, err)
		}
	case "branch", "track":
		if err := gitops.CheckBranch(v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Unless is p without the lab defaults r sets itself: the values of p a request r takes.
func (p Profile) Unless(r Request) Profile {
	for _, f := range ProfileFields {
		if f.Request != nil && *f.Request(&r) != "" {
			*f.Profile(&p) = ""
		}
	}
	return p
}

// ProfileError lists everything wrong with a profile. With Path set, the values were read from the
// profile at Path to fill a request, and the message says so and how to change them.
type ProfileError struct {
	Path string
	Errs []error
}

func (e *ProfileError) Error() string {
	if e.Path == "" {
		return "profile refused, nothing saved:\n" + bullets(e.Errs)
	}
	return fmt.Sprintf("your profile %s holds values labctl refuses:\n%s\nchange them with `labctl profile save`, e.g. `labctl profile save --memory 32Gi`, or give the flag to use another value this once",
		e.Path, bullets(e.Errs))
}

// Unwrap lets errors.Is and errors.As see the refusals.
func (e *ProfileError) Unwrap() []error { return e.Errs }

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
