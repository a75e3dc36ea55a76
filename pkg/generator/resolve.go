package generator

import (
	"cmp"
	"errors"
	"fmt"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
)

// A Resolver turns what a person gave for a lab into the checked JupyterLab, taking each value from,
// in this order: the request given (labctl's flags), the spec file, the profile, the person's answers
// (Ask), the Defaults. It is all of what `labctl create` and `labctl render` do before Git, so that
// every front end (flags, a spec file, a terminal's questions, the e2e suite) resolves alike.
type Resolver struct {
	// File is a spec file (LoadRequest); "" for none.
	File string
	// Profile is the person's profile and ProfilePath where it was read, named when one of its values
	// is refused.
	Profile     Profile
	ProfilePath string
	// Catalog reads what the nodes offer, to check the request against; nil checks nothing.
	Catalog func() (*catalog.Catalog, error)
	// Ask, when set, asks the person for what the request, spec file and profile leave out. A request
	// it filled that has no login gets a password.
	Ask Asker
	// ReadPassword says a password is to be read, with Password, and only its hash kept.
	ReadPassword bool
	Password     func(lab string) ([]byte, error)
}

// An Asker fills in the values of req a person is to be asked for, offering what the catalog (nil:
// unknown) has and the defaults.
type Asker interface {
	Fill(req *Request, cat *catalog.Catalog, defaults Request) error
}

// Request resolves given into a whole request (see Resolver), checked against nothing yet: Lab checks it.
func (rs Resolver) Request(given Request, cat *catalog.Catalog) (*Request, error) {
	req := given
	if rs.File != "" {
		spec, err := LoadRequest(rs.File)
		if err != nil {
			return nil, err
		}
		if req.Name == "" {
			req.Name = spec.Name
		} else if spec.Name != "" && spec.Name != req.Name {
			return nil, fmt.Errorf("lab name %q differs from name %q in spec file %s: give one", req.Name, spec.Name, rs.File)
		}
		req = req.WithDefaults(spec)
		req.PasswordHash = cmp.Or(req.PasswordHash, spec.PasswordHash)
		// The file's variables and mounts first, so that a flag for the same name or path wins.
		req.Env, req.EnvSecrets = append(spec.Env, req.Env...), append(spec.EnvSecrets, req.EnvSecrets...)
		req.Mounts = append(spec.Mounts, req.Mounts...)
	}
	// The profile's values this request takes are checked as they would be when saved, so that a
	// refusal says where the value came from.
	if err := rs.Profile.Unless(req).Validate(); err != nil {
		var perr *ProfileError
		if errors.As(err, &perr) {
			perr.Path = rs.ProfilePath
		}
		return nil, err
	}
	req = req.WithDefaults(rs.Profile.Request())
	readPassword := rs.ReadPassword
	if rs.Ask != nil {
		if err := rs.Ask.Fill(&req, cat, Defaults); err != nil {
			return nil, err
		}
		// No login given: a password, asked for as --password-stdin asks on a terminal.
		readPassword = readPassword || (req.PasswordHash == "" && req.TokenSecret == "")
	}
	req = req.WithDefaults(Defaults)
	if readPassword {
		if req.Name == "" { // before asking for a password for it
			return nil, &RequestError{Errs: []error{ErrNoName}}
		}
		if rs.Password == nil {
			return nil, errors.New("a password is to be read for lab " + req.Name + " but nothing reads one")
		}
		password, err := rs.Password(req.Name)
		if err != nil {
			return nil, err
		}
		if req.PasswordHash, err = HashPassword(password); err != nil {
			return nil, err
		}
	}
	return &req, nil
}

// Lab resolves given (see Request), reads the catalog and builds the checked JupyterLab. The error
// lists every problem at once: the request's, the catalog's when it cannot be read, and those of also
// (what else the caller needs, such as a repository), so that a person fixes them in one go rather
// than one per run.
func (rs Resolver) Lab(given Request, also ...error) (*labkitv1alpha1.JupyterLab, error) {
	var errs []error
	var cat *catalog.Catalog
	if rs.Catalog != nil {
		var err error
		if cat, err = rs.Catalog(); err != nil {
			errs = append(errs, err)
		}
	}
	if rs.Ask != nil && len(errs) > 0 { // before asking questions whose answers could not be checked
		return nil, &RequestError{Name: given.Name, Errs: errs}
	}
	req, err := rs.Request(given, cat)
	if err != nil {
		return nil, err
	}
	for _, err := range also {
		if err != nil {
			errs = append(errs, err)
		}
	}
	lab, err := Build(*req, cat)
	if reqErr := (*RequestError)(nil); errors.As(err, &reqErr) {
		errs = append(errs, reqErr.Errs...)
	} else if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, &RequestError{Name: req.Name, Errs: errs}
	}
	return lab, nil
}
