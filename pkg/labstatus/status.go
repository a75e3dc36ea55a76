package labstatus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// Sources are where a lab's state is read from. Either may be missing: then the Status says, in
// Unseen, what could not be seen and why.
type Sources struct {
	// Git is the branch the labs are requested on; nil with GitErr saying why there is none.
	Git    *generator.Publisher
	GitErr error
	// Cluster reads labs, pods, events and Argo CD's Applications; Config is its REST config (for
	// port-forwards). Both nil with ClusterErr saying why there is no cluster.
	Cluster    client.Client
	Config     *rest.Config
	ClusterErr error
	// ArgoNamespace is where Argo CD's Applications are; default "argocd".
	ArgoNamespace string
}

func (s Sources) argoNamespace() string {
	if s.ArgoNamespace == "" {
		return "argocd"
	}
	return s.ArgoNamespace
}

// target is where Argo CD finds the labs of the branch; without a repository, that of a branch that
// is no environment, whose Application names are the lab's own.
func (s Sources) target() generator.Target {
	if s.Git != nil {
		return s.Git.Target
	}
	return generator.Target{}
}

// Status is one lab as a person wants to see it: what Git holds, what Argo CD made of it, and how it
// runs. A section is nil when it could not be read; Unseen says why.
type Status struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Git       *Git     `json:"git,omitempty"`
	ArgoCD    *ArgoCD  `json:"argocd,omitempty"`
	Lab       *Lab     `json:"lab,omitempty"`
	Unseen    []string `json:"unseen,omitempty"`
}

// Git is the lab as requested on the branch.
type Git struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	// Tip is the branch's commit.
	Tip string `json:"tip,omitempty"`
	// OnBranch is false when the branch holds no such lab (deleted, or never requested there).
	OnBranch bool `json:"onBranch"`
	// LastChange is the commit that last changed the lab's files.
	LastChange *Commit `json:"lastChange,omitempty"`
	// Request is what the lab asks for, in people's words.
	Request *Request `json:"request,omitempty"`
}

// Commit is a Git commit as people read it.
type Commit struct {
	ID      string    `json:"id"`
	Author  string    `json:"author"`
	Date    time.Time `json:"date"`
	Subject string    `json:"subject"`
}

// Request is what a lab asks for.
type Request struct {
	Owner   string `json:"owner"`
	GPU     string `json:"gpu,omitempty"` // e.g. "1× NVIDIA-A100-SXM4-40GB"; empty: none
	CPU     string `json:"cpu"`
	Memory  string `json:"memory"`
	Storage string `json:"storage"`
	Image   string `json:"image"`
	// Stopped: the branch asks for the lab to run no pod (labctl stop).
	Stopped bool `json:"stopped,omitempty"`
	// ExpiresAt is when the lab is stopped for good, until labctl extend gives it more time.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// IdleTimeout is how long the lab may go without activity before it is stopped, e.g. "2h"; "0s":
	// never. Empty: the controller's setting.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// Shm is the size of /dev/shm when the lab sets it; Volumes its mounts of other volumes, as
	// CLAIM:/PATH or CLAIM:/PATH:ro.
	Shm     string   `json:"shm,omitempty"`
	Volumes []string `json:"volumes,omitempty"`
}

// ArgoCD is the lab's Argo CD Application.
type ArgoCD struct {
	Application string `json:"application"`
	// Found is false when the Application does not exist (yet).
	Found bool `json:"found"`
	// Sync is Synced or OutOfSync, at Revision, the commit Argo CD compared with.
	Sync     string `json:"sync,omitempty"`
	Revision string `json:"revision,omitempty"`
	// Health is Healthy when the lab is Ready (labkit's health check), else Progressing, Degraded, ...
	Health string `json:"health,omitempty"`
	// Message is what Argo CD says about a problem: a failed sync, a condition, the health message.
	Message string `json:"message,omitempty"`
}

// Lab is the lab as it runs in the cluster.
type Lab struct {
	// Found is false when the cluster has no such lab (yet).
	Found bool   `json:"found"`
	Phase string `json:"phase,omitempty"`
	Node  string `json:"node,omitempty"`
	GPUs  string `json:"gpus,omitempty"` // e.g. "1× NVIDIA-A100-SXM4-40GB"
	// URL is where people open the lab; InternalURL its address inside the cluster.
	URL         string      `json:"url,omitempty"`
	InternalURL string      `json:"internalURL,omitempty"`
	Conditions  []Condition `json:"conditions,omitempty"`
	// Current is false when the status is of an older spec than the lab's (the controller is behind).
	Current bool `json:"current"`
	// Stopped says why the lab runs no pod, and since when; nil while it runs.
	Stopped *Stopped `json:"stopped,omitempty"`
	// IdleSince is the Jupyter server's last activity, once it has had none for a while; nil while it is
	// in use (or its activity is not watched).
	IdleSince *time.Time `json:"idleSince,omitempty"`
}

// Stopped is why a lab runs no pod: Stopped (labctl stop), Idle (no activity for its idle timeout) or
// Expired (its expiry passed), and since when.
type Stopped struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Condition is one of the lab's conditions.
type Condition struct {
	Type    string    `json:"type"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since"`
}

// Ready says whether the lab runs and answers.
func (s *Status) Ready() bool {
	return s.Lab != nil && s.Lab.Found && s.Lab.Phase == string(labkitv1alpha1.PhaseReady) && s.Lab.Current
}

// Get reads one lab from every source there is.
func Get(ctx context.Context, src Sources, namespace, name string) (*Status, error) {
	var snap *generator.Snapshot
	if src.Git != nil {
		var err error
		if snap, err = src.Git.Snapshot(ctx, true); err != nil {
			return nil, err
		}
	}
	return get(ctx, src, snap, namespace, name), nil
}

// List reads every lab on the branch from every source there is. Without Git, it lists the labs in
// the cluster.
func List(ctx context.Context, src Sources) ([]*Status, error) {
	var keys []client.ObjectKey
	var snap *generator.Snapshot
	switch {
	case src.Git != nil:
		var err error
		if snap, err = src.Git.Snapshot(ctx, true); err != nil {
			return nil, err
		}
		for _, e := range snap.Labs {
			keys = append(keys, client.ObjectKeyFromObject(e.Lab))
		}
	case src.Cluster != nil:
		labs := &labkitv1alpha1.JupyterLabList{}
		if err := src.Cluster.List(ctx, labs); err != nil {
			return nil, fmt.Errorf("list the labs in the cluster: %w", explain(err))
		}
		for i := range labs.Items {
			keys = append(keys, client.ObjectKeyFromObject(&labs.Items[i]))
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	default:
		return nil, fmt.Errorf("no Git repository (%v) and no cluster (%v): nothing to list", src.GitErr, src.ClusterErr)
	}
	out := make([]*Status, len(keys))
	for i, k := range keys {
		out[i] = get(ctx, src, snap, k.Namespace, k.Name)
	}
	return out, nil
}

func get(ctx context.Context, src Sources, snap *generator.Snapshot, namespace, name string) *Status {
	st := &Status{Namespace: namespace, Name: name}
	if snap != nil {
		st.Git = gitPart(src.Git, snap, namespace, name)
	} else {
		st.Unseen = append(st.Unseen, "git: "+errText(src.GitErr, "no repository"))
	}
	if src.Cluster == nil {
		st.Unseen = append(st.Unseen, "argo cd and the cluster: "+errText(src.ClusterErr, "no cluster"))
		return st
	}
	if a, err := argoPart(ctx, src, namespace, name); err != nil {
		st.Unseen = append(st.Unseen, "argo cd: "+err.Error())
	} else {
		st.ArgoCD = a
	}
	if l, err := labPart(ctx, src.Cluster, namespace, name); err != nil {
		st.Unseen = append(st.Unseen, "cluster: "+err.Error())
	} else {
		st.Lab = l
	}
	return st
}

func errText(err error, fallback string) string {
	if err == nil {
		return fallback
	}
	return err.Error()
}

func gitPart(p *generator.Publisher, snap *generator.Snapshot, namespace, name string) *Git {
	g := &Git{Repo: p.Target.RepoURL, Branch: p.Repo.Branch(), Tip: snap.Tip}
	for _, e := range snap.Labs {
		if e.Lab.Namespace != namespace || e.Lab.Name != name {
			continue
		}
		g.OnBranch = true
		g.Request = request(e.Lab)
		if c := e.LastChange; c != nil {
			g.LastChange = &Commit{ID: c.ID, Author: c.Author, Date: c.Date, Subject: c.Subject}
		}
	}
	return g
}

func request(l *labkitv1alpha1.JupyterLab) *Request {
	r := &Request{Owner: l.Spec.Owner, GPU: gpus(l), CPU: l.Spec.Resources.CPU.String(), Memory: l.Spec.Resources.Memory.String(),
		Storage: l.Spec.Storage.Size.String(), Image: l.Spec.Image, Stopped: l.Spec.Stopped}
	if e := l.Spec.ExpiresAt; e != nil {
		t := e.UTC()
		r.ExpiresAt = &t
	}
	if d := l.Spec.IdleTimeout; d != nil {
		r.IdleTimeout = shortDuration(d.Duration)
	}
	if q := l.Spec.ShmSize; q != nil {
		r.Shm = q.String()
	}
	for _, v := range l.Spec.Volumes {
		m := v.ClaimName + ":" + v.MountPath
		if v.ReadOnly {
			m += ":ro"
		}
		r.Volumes = append(r.Volumes, m)
	}
	return r
}

// shortDuration is d as people write it: 2h, 1h30m, 90s, 0s (not 2h0m0s).
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func gpus(l *labkitv1alpha1.JupyterLab) string {
	if l.GPUCount() == 0 {
		return ""
	}
	return fmt.Sprintf("%d× %s", l.GPUCount(), l.Spec.GPU.Product)
}

func argoPart(ctx context.Context, src Sources, namespace, name string) (*ArgoCD, error) {
	app, err := findApp(ctx, src, namespace, name)
	a := &ArgoCD{Application: src.target().AppName(namespace, name)}
	switch {
	case apierrors.IsNotFound(err):
		return a, nil
	case meta.IsNoMatchError(err):
		return nil, errNoArgoCD
	case err != nil:
		return nil, explain(err)
	}
	a.Found, a.Application = true, app.Name
	a.Sync, a.Revision, a.Health = labSync(app, namespace, name)
	a.Message = argoMessage(app)
	return a, nil
}

// findApp reads the Application that syncs the lab, in either layout: the lab's own, or else its
// namespace's; with neither, the error is that of the lab's own, NotFound.
func findApp(ctx context.Context, src Sources, namespace, name string) (*argocd.Application, error) {
	var first error
	for _, n := range src.target().AppNames(namespace, name) {
		app, err := argocd.Get(ctx, src.Cluster, src.argoNamespace(), n)
		if err == nil || !apierrors.IsNotFound(err) {
			return app, err
		}
		first = cmp.Or(first, err)
	}
	return nil, first
}

// labSync is the sync status, revision and health of the lab in app: the Application's own when it is
// the lab's, else those of the lab's entry in the Application's resources (empty until Argo CD has
// compared it; the health empty where Argo CD does not say).
func labSync(app *argocd.Application, namespace, name string) (sync, revision, health string) {
	s := app.Status
	if app.Spec.Source.Path == generator.LabDir(namespace, name) {
		return s.Sync.Status, s.Sync.Revision, s.Health.Status
	}
	r := app.Resource(labkitv1alpha1.GroupVersion.Group, "JupyterLab", namespace, name)
	if r == nil {
		return "", s.Sync.Revision, ""
	}
	switch {
	case r.Health != nil:
		health = r.Health.Status
	case s.Health.Status == argocd.HealthStatusHealthy:
		// Argo CD 3 keeps each resource's health out of the Application's status unless
		// controller.resource.health.persist is on; the Application's own health is the worst of its
		// resources', so Healthy there means Healthy here. Anything else says nothing of this lab.
		health = argocd.HealthStatusHealthy
	}
	return r.Status, s.Sync.Revision, health
}

// argoMessage is what Argo CD says is wrong, if anything: a failed sync first, then its conditions,
// then the health message.
func argoMessage(app *argocd.Application) string {
	s := app.Status
	if op := s.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
		return "sync " + op.Phase + ": " + op.Message
	}
	for _, c := range s.Conditions {
		return c.Type + ": " + c.Message
	}
	return s.Health.Message
}

func labPart(ctx context.Context, c client.Client, namespace, name string) (*Lab, error) {
	lab := &labkitv1alpha1.JupyterLab{}
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, lab); {
	case apierrors.IsNotFound(err):
		return &Lab{}, nil
	case err != nil:
		return nil, explain(err)
	}
	return labFrom(lab), nil
}

// labFrom is the Lab part of a lab read from the cluster.
func labFrom(lab *labkitv1alpha1.JupyterLab) *Lab {
	st := lab.Status
	l := &Lab{Found: true, Phase: string(st.Phase), Node: st.NodeName, GPUs: gpus(lab), URL: st.URL, InternalURL: st.InternalURL,
		Current: st.ObservedGeneration == lab.Generation}
	for _, t := range []string{labkitv1alpha1.ConditionReady, labkitv1alpha1.ConditionScheduled, labkitv1alpha1.ConditionStorageReady,
		labkitv1alpha1.ConditionVolumesReady} {
		if cond := meta.FindStatusCondition(st.Conditions, t); cond != nil {
			l.Conditions = append(l.Conditions, Condition{Type: cond.Type, Status: string(cond.Status), Reason: cond.Reason,
				Message: cond.Message, Since: cond.LastTransitionTime.Time})
		}
	}
	if s := st.Stopped; s != nil {
		l.Stopped = &Stopped{Reason: s.Reason, Since: s.Since.UTC()}
	}
	if t := st.IdleSince; t != nil {
		u := t.UTC()
		l.IdleSince = &u
	}
	return l
}

// ClusterLabs reads the labs of the namespaces from the cluster in one list call per namespace, as
// Status.Lab reports them, by namespace and name; a lab the cluster does not have is not in the map.
// labctl list uses it to show each lab's phase and URL beside what the branch holds.
func ClusterLabs(ctx context.Context, src Sources, namespaces ...string) (map[client.ObjectKey]*Lab, error) {
	if src.Cluster == nil {
		return nil, cmp.Or(src.ClusterErr, errors.New("no cluster to look at"))
	}
	out := map[client.ObjectKey]*Lab{}
	seen := map[string]bool{}
	for _, ns := range namespaces {
		if seen[ns] {
			continue
		}
		seen[ns] = true
		labs := &labkitv1alpha1.JupyterLabList{}
		if err := src.Cluster.List(ctx, labs, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("list the labs of namespace %s in the cluster: %w", ns, explain(err))
		}
		for i := range labs.Items {
			out[client.ObjectKeyFromObject(&labs.Items[i])] = labFrom(&labs.Items[i])
		}
	}
	return out, nil
}

// condition is the lab's condition of type t, or nil.
func (l *Lab) condition(t string) *Condition {
	for i := range l.Conditions {
		if l.Conditions[i].Type == t {
			return &l.Conditions[i]
		}
	}
	return nil
}

// errNoArgoCD says the cluster has no Application kind.
var errNoArgoCD = errors.New("Argo CD is not installed in the cluster (it has no argoproj.io Application kind)")

// explain turns API errors a person may hit into words: no such kind in the cluster, not allowed.
func explain(err error) error {
	var noKind *meta.NoKindMatchError
	switch {
	case errors.As(err, &noKind):
		return fmt.Errorf("the cluster does not know %s (is it installed?)", noKind.GroupKind.String())
	case meta.IsNoMatchError(err):
		return errors.New("the cluster does not know this kind of object (is what serves it installed?)")
	case apierrors.IsForbidden(err):
		return fmt.Errorf("your kubeconfig's user may not read it: %w", err)
	}
	return err
}

// pods of a lab, newest first, without those being deleted.
func labPods(ctx context.Context, c client.Client, namespace, name string) ([]corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(namespace), client.MatchingLabels{labkitv1alpha1.LabLabel: name}); err != nil {
		return nil, err
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[j].CreationTimestamp.Before(&live[i].CreationTimestamp) })
	return live, nil
}
