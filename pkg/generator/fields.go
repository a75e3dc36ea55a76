package generator

// A RequestField is one value of a lab request as labctl takes it: its flag, what it means (Usage;
// BindRequest adds the default from Defaults), and its place in a Request: Value for one value, Values
// for a repeatable flag. Profile is its place in a Profile, for a lab default a profile may hold.
// RequestFields lists them once, for the flags, the profile and defaults alike.
type RequestField struct {
	Flag, Usage string
	Value       func(*Request) *string
	Values      func(*Request) *[]string
	Profile     func(*Profile) *string
}

// RequestFields are the request's values labctl takes from flags, in the order help lists them. The
// name (an argument), --password-stdin and the expiry (--for and --until, one setting in two flags) are
// not here: each command binds them.
var RequestFields = []RequestField{
	{Flag: "namespace", Usage: "namespace of the lab, the part of the cluster it lives in",
		Value: func(r *Request) *string { return &r.Namespace }, Profile: func(p *Profile) *string { return &p.Namespace }},
	{Flag: "owner", Usage: "the person the lab belongs to, as a DNS label (lower-case letters, digits and '-'), e.g. ada",
		Value: func(r *Request) *string { return &r.Owner }, Profile: func(p *Profile) *string { return &p.Owner }},
	{Flag: "image", Usage: "Jupyter image",
		Value: func(r *Request) *string { return &r.Image }, Profile: func(p *Profile) *string { return &p.Image }},
	{Flag: "gpu", Usage: "GPUs as MODEL:COUNT, e.g. A100:1; none for a CPU-only lab",
		Value: func(r *Request) *string { return &r.GPU }, Profile: func(p *Profile) *string { return &p.GPU }},
	{Flag: "cpu", Usage: "CPU cores, e.g. 8 or 500m",
		Value: func(r *Request) *string { return &r.CPU }, Profile: func(p *Profile) *string { return &p.CPU }},
	{Flag: "memory", Usage: "memory, e.g. 32Gi",
		Value: func(r *Request) *string { return &r.Memory }, Profile: func(p *Profile) *string { return &p.Memory }},
	{Flag: "storage", Usage: "volume size, e.g. 100Gi",
		Value: func(r *Request) *string { return &r.Storage }, Profile: func(p *Profile) *string { return &p.Storage }},
	{Flag: "storage-class", Usage: "storage class of the volume, the kind of disk (default: the cluster's)",
		Value: func(r *Request) *string { return &r.StorageClass }, Profile: func(p *Profile) *string { return &p.StorageClass }},
	{Flag: "token-secret", Usage: "log in with the token in this Secret's key \"token\" (in the lab's namespace)",
		Value: func(r *Request) *string { return &r.TokenSecret }},
	{Flag: "image-pull-secret", Usage: "Secret used to pull the image",
		Value: func(r *Request) *string { return &r.ImagePullSecret }, Profile: func(p *Profile) *string { return &p.ImagePullSecret }},
	{Flag: "env", Usage: "environment variable NAME=VALUE of the Jupyter server, kept in Git in plain text (repeatable)",
		Values: func(r *Request) *[]string { return &r.Env }},
	{Flag: "env-secret", Usage: "environment variable NAME=SECRET:KEY, its value from key KEY of Secret SECRET in the lab's namespace (repeatable)",
		Values: func(r *Request) *[]string { return &r.EnvSecrets }},
	{Flag: "idle-timeout", Usage: "stop the lab after this long without activity, a `DURATION` such as 2h, 90m or 1d; 0 never does (default: the controller's setting)",
		Value: func(r *Request) *string { return &r.IdleTimeout }},
	{Flag: "shm", Usage: "size of /dev/shm, a `SIZE` such as 8Gi, taken from --memory (default: a quarter of the memory with GPUs, else 64Mi)",
		Value: func(r *Request) *string { return &r.Shm }},
	{Flag: "mount", Usage: "mount an existing volume, `CLAIM:/PATH[:ro|:rw]`: the PersistentVolumeClaim CLAIM of the lab's namespace at PATH, read-only with :ro, e.g. imagenet:/data/imagenet:ro (repeatable)",
		Values: func(r *Request) *[]string { return &r.Mounts }},
}

// profileRepoFields are the profile's values that say where labs are published rather than what they are.
var profileRepoFields = []ProfileField{
	{"repo", "Git remote to push to", func(p *Profile) *string { return &p.Repo }, nil},
	{"branch", "branch to push to", func(p *Profile) *string { return &p.Branch }, nil},
	{"repo-url", "the repository's URL as Argo CD reaches it", func(p *Profile) *string { return &p.RepoURL }, nil},
	{"track", "the branch Argo CD follows, when --branch is a proposal to merge into it", func(p *Profile) *string { return &p.Track }, nil},
}

// profileFields are the lab defaults of RequestFields a profile holds, then profileRepoFields.
func profileFields() []ProfileField {
	var fs []ProfileField
	for _, f := range RequestFields {
		if f.Profile != nil {
			fs = append(fs, ProfileField{Flag: f.Flag, Usage: f.Usage, Profile: f.Profile, Request: f.Value})
		}
	}
	return append(fs, profileRepoFields...)
}
