package generator

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/catalog"
)

// Request is what a person asks for, in their words: `--gpu A100:1 --cpu 8 --memory 32Gi`. It is
// also the format of a spec file (`labctl create -f`). It holds no plaintext secret: a password is
// hashed before it gets here.
type Request struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Owner     string `json:"owner"`
	Image     string `json:"image,omitempty"`
	// GPU is MODEL:COUNT, e.g. "A100:1"; MODEL alone means one; empty or "none" means CPU-only.
	GPU          string `json:"gpu,omitempty"`
	CPU          string `json:"cpu,omitempty"`
	Memory       string `json:"memory,omitempty"`
	Storage      string `json:"storage,omitempty"`
	StorageClass string `json:"storageClass,omitempty"`
	// PasswordHash is an argon2 hash (see HashPassword); TokenSecret names a Secret in the lab's
	// namespace with the Jupyter token under "token". Exactly one is needed.
	PasswordHash    string `json:"passwordHash,omitempty"`
	TokenSecret     string `json:"tokenSecret,omitempty"`
	ImagePullSecret string `json:"imagePullSecret,omitempty"`
	// Env are NAME=VALUE pairs, in plain text in Git; EnvSecrets are NAME=SECRET:KEY, the value of NAME
	// taken from key KEY of the Secret SECRET in the lab's namespace.
	Env        []string `json:"env,omitempty"`
	EnvSecrets []string `json:"envSecrets,omitempty"`
	// For and Until say when the lab expires (it is stopped then, with its volume kept); at most one of
	// them. For is a duration from when the request is built, e.g. "14d", "36h" or "2w" (ParseDuration);
	// Until a date, "2026-12-24" (the end of that day in UTC), or an RFC 3339 time (see Expiry).
	For   string `json:"for,omitempty"`
	Until string `json:"until,omitempty"`
	// IdleTimeout stops the lab after this long without activity, e.g. "2h"; "0" never does. Empty: the
	// controller's setting.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// Shm is the size of /dev/shm, e.g. "8Gi", taken from Memory. Empty: the controller's default.
	Shm string `json:"shm,omitempty"`
	// Mounts are existing volumes of the lab's namespace as CLAIM:/PATH, CLAIM:/PATH:ro (read-only) or
	// CLAIM:/PATH:rw; a later one at the same path replaces an earlier one (flags after the spec file).
	Mounts []string `json:"mounts,omitempty"`
}

// MaxNameLength is the longest lab name: the lab's children add suffixes to it (the CRD has the same limit).
const MaxNameLength = 50

// requestFields are the fields of a spec file, for the message that refuses an unknown one.
const requestFields = "name, namespace, owner, image, gpu, cpu, memory, storage, storageClass, passwordHash, tokenSecret, " +
	"imagePullSecret, env, envSecrets, for, until, idleTimeout, shm, mounts"

// Defaults fill what a request leaves empty.
var Defaults = Request{
	Namespace: "jupyter",
	Image:     "quay.io/jupyter/minimal-notebook:python-3.11",
	CPU:       "2",
	Memory:    "8Gi",
	Storage:   "10Gi",
}

// WithDefaults returns r with its empty values of RequestFields, and its expiry, taken from d. The
// name, the password hash and the lists (Env, EnvSecrets, Mounts) are never defaults.
func (r Request) WithDefaults(d Request) Request {
	for _, f := range RequestFields {
		if f.Value != nil && *f.Value(&r) == "" {
			*f.Value(&r) = *f.Value(&d)
		}
	}
	// For and Until are one setting: one given here keeps the other of d out.
	if r.For == "" && r.Until == "" {
		r.For, r.Until = d.For, d.Until
	}
	return r
}

// LoadRequest reads a spec file: a Request in YAML. Unknown fields are an error, so a misspelt field
// or a plaintext "password:" is refused rather than ignored.
func LoadRequest(path string) (Request, error) {
	var r Request
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read spec file: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return r, fmt.Errorf("spec file %s: %w (fields: %s)", path, err, requestFields)
	}
	return r, nil
}

// BuildOption configures Build.
type BuildOption interface{ apply(*buildOptions) }

type buildOptions struct{ now time.Time }

type buildOptionFunc func(*buildOptions)

func (f buildOptionFunc) apply(o *buildOptions) { f(o) }

// BuildAt builds the request as at now: Request.For counts from it and Request.Until must be after it.
// The default is the time Build is called.
func BuildAt(now time.Time) BuildOption {
	return buildOptionFunc(func(o *buildOptions) { o.now = now })
}

// Build checks a request, resolves its GPU name against the catalog and checks that some node can
// take it now, and returns the JupyterLab. A nil catalog skips both catalog checks. Every problem of
// the request is reported at once.
func Build(r Request, cat *catalog.Catalog, opts ...BuildOption) (*labkitv1alpha1.JupyterLab, error) {
	o := &buildOptions{now: time.Now()}
	for _, opt := range opts {
		opt.apply(o)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	checkName(&errs, "name", r.Name)
	checkNamespace(&errs, "namespace", r.Namespace)
	checkLabel(&errs, "--owner (the person the lab belongs to)", r.Owner)
	if r.Image == "" {
		bad("image is required, e.g. quay.io/jupyter/minimal-notebook:python-3.11")
	}
	env, envErrs := parseEnv(r.Env, r.EnvSecrets)
	errs = append(errs, envErrs...)
	volumes, mountErrs := parseMounts(r.Mounts)
	errs = append(errs, mountErrs...)
	expiresAt, hasExpiry, err := Expiry(r.For, r.Until, o.now)
	if err != nil {
		errs = append(errs, err)
	}
	var idle *metav1.Duration
	if r.IdleTimeout != "" {
		if d, err := idleTimeout(r.IdleTimeout); err != nil {
			errs = append(errs, err)
		} else {
			idle = &metav1.Duration{Duration: d}
		}
	}
	fieldErrs := len(errs)
	cpu := quantity(&errs, "cpu", r.CPU, `"8" or "500m"`)
	n := len(errs)
	memory := size(&errs, "--memory", r.Memory, MinMemory, whyMinMemory)
	memoryOK := len(errs) == n
	storage := size(&errs, "--storage", r.Storage, MinStorage, whyMinStorage)

	product, count, err := ParseGPU(r.GPU)
	if err != nil {
		errs = append(errs, err)
	}
	// What the nodes offer is worth checking whenever the resources themselves make sense.
	checkCatalog := cat != nil && len(errs) == fieldErrs

	var shm *resource.Quantity
	if r.Shm != "" {
		n := len(errs)
		q := size(&errs, "--shm", r.Shm, MinShm, whyMinShm)
		switch {
		case len(errs) > n:
		case memoryOK && q.Cmp(memory) > 0:
			bad("--shm %s is more than --memory %s: /dev/shm is taken from the lab's memory, so ask for more --memory or a smaller --shm", r.Shm, r.Memory)
		default:
			shm = &q
		}
	}

	var auth labkitv1alpha1.AuthSpec
	switch {
	case r.PasswordHash != "" && r.TokenSecret != "":
		bad("give a password or a token secret, not both")
	case r.PasswordHash != "":
		if !passwordHashPattern.MatchString(r.PasswordHash) {
			// Never echo it: it may be a plaintext password given by mistake.
			bad("password hash (%d characters, not shown) is not an argon2 hash like argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>; pass the password on stdin with --password-stdin and labctl hashes it", len(r.PasswordHash))
		}
		auth.PasswordHash = r.PasswordHash
	case r.TokenSecret != "":
		if msgs := validation.IsDNS1123Subdomain(r.TokenSecret); len(msgs) > 0 {
			bad("--token-secret %q is not the name of a Secret (a named set of keys kept in the cluster, here one with the key \"token\"): use lower-case letters, digits, '-' and '.', e.g. ada-token", r.TokenSecret)
		}
		auth.SecretRef = &labkitv1alpha1.SecretKeyRef{Name: r.TokenSecret, Key: "token"}
	default:
		bad("the lab needs a login: --password-stdin (a password, stored only as a hash) or --token-secret NAME (a Secret with key \"token\")")
	}

	if checkCatalog {
		if count > 0 {
			product, err = cat.MatchProduct(product)
		}
		if err == nil {
			_, err = cat.Fit(catalog.Request{GPUProduct: product, GPUs: int64(count), CPU: cpu, Memory: memory})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, &RequestError{Name: r.Name, Errs: errs}
	}

	lab := &labkitv1alpha1.JupyterLab{
		TypeMeta:   metav1.TypeMeta{APIVersion: labkitv1alpha1.GroupVersion.String(), Kind: "JupyterLab"},
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
		Spec: labkitv1alpha1.JupyterLabSpec{
			Owner:           r.Owner,
			Image:           r.Image,
			Resources:       labkitv1alpha1.LabResources{CPU: cpu, Memory: memory},
			Storage:         labkitv1alpha1.StorageSpec{Size: storage, StorageClassName: r.StorageClass},
			Auth:            auth,
			ImagePullSecret: r.ImagePullSecret,
			Env:             env,
			IdleTimeout:     idle,
			ShmSize:         shm,
			Volumes:         volumes,
		},
	}
	if hasExpiry {
		lab.Spec.ExpiresAt = &metav1.Time{Time: expiresAt}
	}
	if count > 0 {
		lab.Spec.GPU = &labkitv1alpha1.GPURequest{Product: product, Count: count}
	}
	return lab, nil
}

// ErrNoName: the request names no lab.
var ErrNoName = errors.New("no lab name: give it as the argument, e.g. `labctl create ada-a100 ...`, or as name: in the spec file")

// checkName checks a lab name: a label of at most MaxNameLength characters.
func checkName(errs *[]error, field, v string) {
	if v == "" {
		*errs = append(*errs, ErrNoName)
		return
	}
	label(errs, field, v, MaxNameLength, ": the parts made for the lab (its volume, Service and others) add suffixes to its name, and those must fit in 63")
}

// checkLabel checks an owner or the like: a label of at most 63 characters.
func checkLabel(errs *[]error, field, v string) { label(errs, field, v, 63, "") }

// checkNamespace checks a namespace, saying what one is.
func checkNamespace(errs *[]error, field, v string) {
	checkLabel(errs, field+" (the part of the cluster the lab goes in, shared with your team)", v)
}

// label checks that v is a DNS-1123 label of at most maxLen characters, saying in words what that
// is. The length is checked on its own first: IsDNS1123Label also refuses a name over 63
// characters, and its character rule would then be the message although the name keeps it.
func label(errs *[]error, field, v string, maxLen int, why string) {
	var err error
	switch {
	case v == "":
		err = fmt.Errorf("%s is required", field)
	case len(v) > maxLen:
		err = fmt.Errorf("%s %q is %d characters, but at most %d are allowed%s", field, v, len(v), maxLen, why)
	case len(validation.IsDNS1123Label(v)) > 0:
		err = fmt.Errorf("%s %q may hold only lower-case letters, digits and '-', and must start and end with a letter or digit (a DNS-1123 label), e.g. ada-a100", field, v)
	}
	if err != nil {
		*errs = append(*errs, err)
	}
}

// RequestError lists everything wrong with one request.
type RequestError struct {
	Name string
	Errs []error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("request for lab %q refused:\n%s", e.Name, bullets(e.Errs))
}

// bullets lists errs one a line, indented, as the refusals of a request or profile list them.
func bullets(errs []error) string {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = "  - " + err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is find the catalog's sentinels (catalog.ErrNoFit, ...).
func (e *RequestError) Unwrap() []error { return e.Errs }

// ParseGPU parses MODEL:COUNT ("A100:2"), MODEL (one GPU), or "", "none" and "0" (no GPU).
func ParseGPU(s string) (product string, count int32, err error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "0":
		return "", 0, nil
	}
	model, n, hasCount := strings.Cut(s, ":")
	if model == "" {
		return "", 0, fmt.Errorf("gpu %q names no GPU model: use MODEL:COUNT, e.g. A100:1, or none", s)
	}
	count = 1
	if hasCount {
		c, err := strconv.Atoi(n)
		if err != nil || c < 0 || c > labkitv1alpha1.MaxGPUCount {
			return "", 0, fmt.Errorf("gpu %q: count %q must be a whole number from 0 to %d", s, n, labkitv1alpha1.MaxGPUCount)
		}
		count = int32(c)
	}
	if count == 0 {
		return "", 0, nil
	}
	return model, count, nil
}

// The smallest memory, storage and /dev/shm a lab may ask for.
var (
	MinMemory  = resource.MustParse("256Mi")
	MinStorage = resource.MustParse("1Gi")
	MinShm     = resource.MustParse("64Mi")
)

// Why the floors are what they are, for the messages that refuse less.
const (
	whyMinMemory  = "a Jupyter server and its kernel need about that much"
	whyMinStorage = "the home folder holds Jupyter's own files and a kernel's"
	whyMinShm     = "Docker's default, enough for a process or two"
)

// binaryUnits are the units size accepts, and decimalUnits those it refuses, each with the binary
// unit a person most likely meant: people write 32GB or 32G meaning 32 GiB, which Kubernetes would
// read as 32×1000³ bytes or refuse.
var (
	binaryUnits  = []string{"Ki", "Mi", "Gi", "Ti", "Pi"}
	decimalUnits = map[string]string{"k": "Ki", "kb": "Ki", "m": "Mi", "mb": "Mi", "g": "Gi", "gb": "Gi", "t": "Ti", "tb": "Ti", "p": "Pi", "pb": "Pi",
		"kib": "Ki", "mib": "Mi", "gib": "Gi", "tib": "Ti", "pib": "Pi", "ki": "Ki", "mi": "Mi", "gi": "Gi", "ti": "Ti", "pi": "Pi"}
	sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)
)

// size parses a memory or storage size, which must be a number with one of binaryUnits and at least
// floor. A bare number ("32", which Kubernetes reads as 32 bytes) and the decimal spellings (32G,
// 32GB) are refused, naming the spelling to use: one rule for every size.
func size(errs *[]error, field, v string, floor resource.Quantity, why string) resource.Quantity {
	bad := func(format string, args ...any) resource.Quantity {
		*errs = append(*errs, fmt.Errorf(format, args...))
		return resource.Quantity{}
	}
	if v == "" {
		return bad("%s is required, e.g. %s 32Gi", field, field)
	}
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return bad("%s %q is not a size: give a number and a unit, e.g. 512Mi, 32Gi or 2Ti (Mi: mebibytes, Gi: gibibytes, Ti: tebibytes)", field, v)
	}
	number, unit := m[1], m[2]
	switch {
	case strings.Trim(number, "0.") == "":
		return bad("%s %s must be more than 0, e.g. %s 32Gi", field, v, field)
	case unit == "":
		return bad("%s %s has no unit, so it would mean %s byte(s): did you mean %sGi? Sizes take a unit: Mi, Gi or Ti", field, v, number, number)
	case !slices.Contains(binaryUnits, unit):
		if meant, ok := decimalUnits[strings.ToLower(unit)]; ok {
			return bad("%s %s: write %s%s; sizes are in binary units: Mi, Gi, Ti (1Gi is 1024³ bytes)", field, v, number, meant)
		}
		return bad("%s %q: %q is not a unit: use Mi, Gi or Ti, e.g. %sGi", field, v, unit, number)
	}
	q, err := resource.ParseQuantity(number + unit)
	if err != nil {
		return bad("%s %q is not a size: give a number and a unit, e.g. 512Mi, 32Gi or 2Ti", field, v)
	}
	if q.Cmp(floor) < 0 {
		return bad("%s %s is too small: a lab needs at least %s (%s)", field, v, floor.String(), why)
	}
	return q
}

func quantity(errs *[]error, field, v, example string) resource.Quantity {
	q, err := resource.ParseQuantity(v)
	switch {
	case v == "":
		*errs = append(*errs, fmt.Errorf("%s is required, e.g. %s", field, example))
	case err != nil:
		*errs = append(*errs, fmt.Errorf("%s %q is not a quantity: use e.g. %s", field, v, example))
	case q.Sign() <= 0:
		*errs = append(*errs, fmt.Errorf("%s %q must be greater than 0, e.g. %s", field, v, example))
	}
	return q
}

var (
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// secretLike is the API server's rule for names whose value must come from a Secret.
	secretLike = regexp.MustCompile(`(?i)(PASSW(OR)?D|TOKEN|SECRET|(^|_)KEY($|_)|APIKEY|CREDENTIAL)`)
)

// parseEnv turns NAME=VALUE and NAME=SECRET:KEY pairs into the lab's environment, in order; a later
// pair for the same name replaces an earlier one (flags after the spec file).
func parseEnv(plain, fromSecrets []string) ([]labkitv1alpha1.EnvVar, []error) {
	var env []labkitv1alpha1.EnvVar
	var errs []error
	put := func(v labkitv1alpha1.EnvVar) {
		for i := range env {
			if env[i].Name == v.Name {
				env[i] = v
				return
			}
		}
		env = append(env, v)
	}
	checkName := func(flag, pair, name string) bool {
		switch {
		case !envName.MatchString(name):
			errs = append(errs, fmt.Errorf("%s %q: the name %q may hold only letters, digits and '_', and not start with a digit", flag, pair, name))
		case name == "JUPYTER_CONFIG_PATH" || name == "JUPYTER_TOKEN":
			errs = append(errs, fmt.Errorf("%s %q: %s is set by labkit (--password-stdin or --token-secret sets the login)", flag, pair, name))
		default:
			return true
		}
		return false
	}
	for _, pair := range plain {
		name, value, ok := strings.Cut(pair, "=")
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("env %q: give NAME=VALUE, e.g. DOCKER_STACKS_JUPYTER_CMD=notebook", pair))
		case !checkName("env", pair, name):
		case secretLike.MatchString(name):
			// Never echo the value: it may be the secret itself.
			errs = append(errs, fmt.Errorf("env %s=(value not shown): %s looks like it holds a secret, and Git would show it to anyone who can read the repository; "+
				"put it in a Secret in the lab's namespace and pass --env-secret %s=SECRET:KEY", name, name, name))
		default:
			put(labkitv1alpha1.EnvVar{Name: name, Value: &value})
		}
	}
	for _, pair := range fromSecrets {
		name, ref, ok := strings.Cut(pair, "=")
		secret, key, hasKey := strings.Cut(ref, ":")
		switch {
		case !ok || !hasKey || secret == "" || key == "":
			errs = append(errs, fmt.Errorf("env secret %q: give NAME=SECRET:KEY, e.g. HF_TOKEN=hugging-face:token (key token of the Secret hugging-face)", pair))
		case !checkName("env secret", pair, name):
		case len(validation.IsDNS1123Subdomain(secret)) > 0:
			errs = append(errs, fmt.Errorf("env secret %q: %q is not a Secret name: lower-case letters, digits, '-' and '.'", pair, secret))
		default:
			put(labkitv1alpha1.EnvVar{Name: name, SecretKeyRef: &labkitv1alpha1.EnvSecretKeyRef{Name: secret, Key: key}})
		}
	}
	return env, errs
}

// Limits of spec.volumes, as the CRD has them.
const (
	maxVolumes       = 16
	maxMountPathLen  = 1024
	labVolumePath    = "/home/jovyan/work"
	mountPathExample = "/data/imagenet"
)

// reservedMount says whether the API server refuses a volume at p (the rule on VolumeMount): the lab's
// own folders and the system's.
func reservedMount(p string) bool {
	switch p {
	case "/", "/home/jovyan", labVolumePath, "/dev/shm", "/tmp":
		return true
	}
	for _, prefix := range []string{"/etc/labkit", "/dev/", "/proc", "/sys"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// parseMounts turns CLAIM:/PATH[:ro|:rw] into the lab's volumes, in order; a later mount at the same
// path replaces an earlier one (flags after the spec file).
func parseMounts(mounts []string) ([]labkitv1alpha1.VolumeMount, []error) {
	var vols []labkitv1alpha1.VolumeMount
	var errs []error
	bad := func(m, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--mount %q: "+format, append([]any{m}, args...)...))
	}
	for _, m := range mounts {
		parts := strings.Split(m, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			bad(m, "give CLAIM:/PATH, e.g. imagenet:%s, or imagenet:%s:ro to mount it read-only", mountPathExample, mountPathExample)
			continue
		}
		claim, p := parts[0], parts[1]
		v := labkitv1alpha1.VolumeMount{ClaimName: claim, MountPath: p}
		ok := true
		if msgs := validation.IsDNS1123Subdomain(claim); len(msgs) > 0 {
			bad(m, "%q is not the name of a volume claim (PersistentVolumeClaim): use lower-case letters, digits, '-' and '.', e.g. imagenet", claim)
			ok = false
		}
		switch {
		case !strings.HasPrefix(p, "/"):
			bad(m, "the path %q is not absolute: mount the volume at a folder such as %s", p, mountPathExample)
			ok = false
		case path.Clean(p) != p || strings.Contains(p, "/../"):
			bad(m, "the path must be a clean absolute path, such as %s, without '..' or a trailing '/'", mountPathExample)
			ok = false
		case reservedMount(p):
			bad(m, "the path must not be /, /home/jovyan, the lab's own volume %s, /tmp, /dev, /proc, /sys or /etc/labkit: choose a folder such as %s", labVolumePath, mountPathExample)
			ok = false
		case len(p) > maxMountPathLen:
			bad(m, "the path is %d characters; at most %d are allowed", len(p), maxMountPathLen)
			ok = false
		}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				v.ReadOnly = true
			case "rw":
			default:
				bad(m, "%q is neither ro (read-only) nor rw (read-write)", parts[2])
				ok = false
			}
		}
		if !ok {
			continue
		}
		if i := slices.IndexFunc(vols, func(o labkitv1alpha1.VolumeMount) bool { return o.MountPath == v.MountPath }); i >= 0 {
			vols[i] = v
		} else {
			vols = append(vols, v)
		}
	}
	if len(vols) > maxVolumes {
		errs = append(errs, fmt.Errorf("--mount: %d volumes, but a lab may mount at most %d", len(vols), maxVolumes))
	}
	return vols, errs
}
