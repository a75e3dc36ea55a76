package labstatus_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/harness/apply"
	harnessargocd "github.com/labkit-dev/labkit/pkg/harness/argocd"
	"github.com/labkit-dev/labkit/pkg/internal/gittest"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
	"github.com/labkit-dev/labkit/pkg/labstatus"
)

var env *testenv.Env

// TestMain starts a real API server with labkit's CRD and Argo CD's (no Argo CD runs: the tests write
// the Applications' status as it would).
func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) {
		env = e
		manifest, err := harnessargocd.Manifest(context.Background())
		if err == nil {
			_, err = apply.Apply(context.Background(), e.Client, manifest, apply.WithFilter(func(u *unstructured.Unstructured) bool {
				return u.GetKind() == "CustomResourceDefinition"
			}))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "install Argo CD's CRDs:", err)
			os.Exit(1)
		}
	})
}

const (
	waitTimeout = 30 * time.Second
	hash        = "argon2:$argon2id$v=19$m=10240,t=10,p=8$c2FsdHNhbHRzYWx0c2FsdA$0fdSTtnIFQsT6pQM8yNSN0LT0wAbQtJY5ZzuvwW8J6Q"
)

func newLab(ns, name string, gpus int32) *labkitv1alpha1.JupyterLab {
	lab := &labkitv1alpha1.JupyterLab{
		TypeMeta:   metav1.TypeMeta{APIVersion: labkitv1alpha1.GroupVersion.String(), Kind: "JupyterLab"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: labkitv1alpha1.JupyterLabSpec{
			Owner: "ada", Image: "quay.io/jupyter/minimal-notebook:python-3.11",
			Resources: labkitv1alpha1.LabResources{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
			Storage:   labkitv1alpha1.StorageSpec{Size: resource.MustParse("10Gi")},
			Auth:      labkitv1alpha1.AuthSpec{PasswordHash: hash},
		},
	}
	if gpus > 0 {
		lab.Spec.GPU = &labkitv1alpha1.GPURequest{Product: "Tesla-T4", Count: gpus}
	}
	return lab
}

// publish commits the lab to a new bare repository as labctl create does.
func publish(t *testing.T, lab *labkitv1alpha1.JupyterLab) (*generator.Publisher, string) {
	t.Helper()
	remote := gittest.Remote(t)
	repo, err := gitops.New(remote, "main", gitops.WithEnv(gittest.Env...))
	if err != nil {
		t.Fatal(err)
	}
	pub := &generator.Publisher{Repo: repo, Target: generator.Target{RepoURL: "http://git.example/labs.git", Revision: "main"}}
	res, _, err := pub.Create(t.Context(), []*labkitv1alpha1.JupyterLab{lab}, false)
	if err != nil {
		t.Fatal(err)
	}
	return pub, res.Commit
}

// putApplication creates (or updates) an Application with a status, as Argo CD would write it.
func putApplication(t *testing.T, ctx context.Context, ns, name, path string, status map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"project":     "default",
			"source":      map[string]any{"repoURL": "http://git.example/labs.git", "path": path, "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
		},
	}}
	if status != nil {
		u.Object["status"] = status
	}
	u.SetGroupVersionKind(argocd.GroupVersion.WithKind("Application"))
	u.SetNamespace(ns)
	u.SetName(name)
	if _, err := apply.Apply(ctx, env.Client, mustYAML(t, u.Object)); err != nil {
		t.Fatal(err)
	}
}

func mustYAML(t *testing.T, obj map[string]any) []byte {
	t.Helper()
	u := unstructured.Unstructured{Object: obj}
	data, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// setLabStatus writes the lab's status as the controller would.
func setLabStatus(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, phase labkitv1alpha1.Phase, node string, conds ...metav1.Condition) {
	t.Helper()
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	lab.Status = labkitv1alpha1.JupyterLabStatus{Phase: phase, NodeName: node, ObservedGeneration: lab.Generation,
		URL: "http://" + lab.Name + "." + lab.Namespace + ".labs.test/", InternalURL: "http://" + lab.Name + "." + lab.Namespace + ".svc.cluster.local:8888/"}
	for _, c := range conds {
		c.LastTransitionTime = metav1.Now()
		lab.Status.Conditions = append(lab.Status.Conditions, c)
	}
	if err := env.Client.Status().Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := env.Namespace(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestStatusJoinsGitArgoCDAndTheLab(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "status")
	lab := newLab(ns, "ada", 1)
	pub, commit := publish(t, lab)
	app := generator.AppName(ns, lab.Name)
	putApplication(t, ctx, ns, app, "labs/"+ns+"/ada", map[string]any{
		"sync": map[string]any{"status": "Synced", "revision": commit}, "health": map[string]any{"status": "Healthy"}})
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseReady, "gpu-t4-1",
		cond("Ready", metav1.ConditionTrue, "PodReady", "Jupyter answers"), cond("Scheduled", metav1.ConditionTrue, "Scheduled", "running on node gpu-t4-1"))

	src := labstatus.Sources{Git: pub, Cluster: env.Client, ArgoNamespace: ns}
	st, err := labstatus.Get(ctx, src, ns, "ada")
	if err != nil {
		t.Fatal(err)
	}
	g, a, l := st.Git, st.ArgoCD, st.Lab
	switch {
	case g == nil || !g.OnBranch || g.Tip != commit || g.LastChange == nil || g.LastChange.ID != commit ||
		!strings.HasPrefix(g.LastChange.Subject, "Add JupyterLab "+ns+"/ada") || g.Request.GPU != "1× Tesla-T4":
		t.Errorf("git part = %+v (last change %+v)", g, g.LastChange)
	case a == nil || !a.Found || a.Sync != "Synced" || a.Revision != commit || a.Health != "Healthy":
		t.Errorf("argo cd part = %+v", a)
	case l == nil || !l.Found || l.Phase != "Ready" || l.Node != "gpu-t4-1" || l.GPUs != "1× Tesla-T4" || !l.Current ||
		l.URL != "http://ada."+ns+".labs.test/" || len(l.Conditions) != 2:
		t.Errorf("lab part = %+v", l)
	case !st.Ready() || len(st.Unseen) != 0:
		t.Errorf("ready %v, unseen %q; want ready and nothing unseen", st.Ready(), st.Unseen)
	}
	var text strings.Builder
	if err := labstatus.WriteText(&text, st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lab " + ns + "/ada (owner ada): 1× Tesla-T4, 2 CPU, 4Gi memory, 10Gi storage",
		"last changed by " + commit[:7], "application " + app + ": Synced at " + commit[:7] + ", Healthy",
		"Ready on node gpu-t4-1, 1× Tesla-T4", "http://ada." + ns + ".labs.test/   (in the cluster: http://ada." + ns + ".svc.cluster.local:8888/)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text does not say %q:\n%s", want, text.String())
		}
	}

	// No cluster: the Git part, and what could not be seen.
	st, err = labstatus.Get(ctx, labstatus.Sources{Git: pub, ClusterErr: errors.New("no kubeconfig")}, ns, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if st.Git == nil || !st.Git.OnBranch || st.ArgoCD != nil || st.Lab != nil || len(st.Unseen) != 1 || !strings.Contains(st.Unseen[0], "no kubeconfig") {
		t.Errorf("without a cluster: %+v", st)
	}
	list, err := labstatus.List(ctx, labstatus.Sources{Git: pub, ClusterErr: errors.New("no kubeconfig")})
	if err != nil || len(list) != 1 || list[0].Name != "ada" {
		t.Errorf("List without a cluster = %v, %v; want the lab on the branch", list, err)
	}
	var table strings.Builder
	if err := labstatus.WriteTable(&table, list); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "not seen: argo cd and the cluster: no kubeconfig") {
		t.Errorf("table does not say what it could not see:\n%s", table.String())
	}
}

// progress collects Wait's lines.
type progress struct {
	mu    sync.Mutex
	lines []string
}

func (p *progress) add(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
}

func (p *progress) has(prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

func (p *progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// until waits for Wait to have reported a line starting with prefix.
func (p *progress) until(t *testing.T, prefix string) {
	t.Helper()
	err := testenv.Eventually(t.Context(), "progress line "+prefix, waitTimeout, func(context.Context) (bool, string, error) {
		return p.has(prefix), p.String(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWaitReportsEachStepFromTheCommitToTheURL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "wait")
	lab := newLab(ns, "bob", 0)
	_, commit := publish(t, lab)
	app := generator.AppName(ns, lab.Name)
	var p progress
	type result struct {
		st  *labstatus.Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		st, err := labstatus.Wait(ctx, labstatus.Sources{Cluster: env.Client, ArgoNamespace: ns}, ns, "bob",
			labstatus.WithCommit(commit), labstatus.WithProgress(p.add), labstatus.WithPollInterval(20*time.Millisecond))
		done <- result{st, err}
	}()

	p.until(t, "waiting for Argo CD to create application "+app)
	putApplication(t, ctx, ns, app, "labs/"+ns+"/bob", map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": "0000000"}})
	p.until(t, "Argo CD: application "+app+" is OutOfSync at 0000000")
	putApplication(t, ctx, ns, app, "labs/"+ns+"/bob", map[string]any{"sync": map[string]any{"status": "Synced", "revision": commit}})
	p.until(t, "Argo CD synced application "+app+" at "+commit[:7])
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhasePending, "", cond("Scheduled", metav1.ConditionFalse, "SchedulingPending", "waiting"))
	p.until(t, "waiting for the scheduler to place the lab")
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseStarting, "cpu-1", cond("Scheduled", metav1.ConditionTrue, "Scheduled", "on cpu-1"),
		cond("Ready", metav1.ConditionFalse, "PodNotReady", "container jupyter is waiting: ContainerCreating"))
	p.until(t, "scheduled on node cpu-1")
	p.until(t, "starting: container jupyter is waiting: ContainerCreating")
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseReady, "cpu-1", cond("Scheduled", metav1.ConditionTrue, "Scheduled", "on cpu-1"),
		cond("Ready", metav1.ConditionTrue, "PodReady", "Jupyter answers"))
	r := <-done
	if r.err != nil {
		t.Fatalf("Wait = %v\nprogress:\n%s", r.err, &p)
	}
	if !r.st.Ready() || r.st.Lab.URL != "http://bob."+ns+".labs.test/" {
		t.Errorf("Wait returned %+v, want the ready lab with its URL", r.st.Lab)
	}
	if last := p.lines[len(p.lines)-1]; last != "ready: http://bob."+ns+".labs.test/" {
		t.Errorf("last progress line %q, want the URL", last)
	}
}

func TestWaitEndsWithTheSchedulersReasonAndWhatFits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "unfit")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "t4-" + ns, Labels: map[string]string{
		labkitv1alpha1.GPUProductLabel: "Tesla-T4", labkitv1alpha1.GPUCountLabel: "2"}}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), node) })
	// The API server taints every new node not-ready; no node lifecycle controller runs here to lift it.
	node.Spec.Taints = nil
	if err := env.Client.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"),
		labkitv1alpha1.GPUResource: resource.MustParse("2")}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if err := env.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	lab := newLab(ns, "big", 4)
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	const why = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseUnschedulable, "", cond("Scheduled", metav1.ConditionFalse, "Unschedulable", why))

	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	_, err := labstatus.Wait(ctx, labstatus.Sources{Cluster: env.Client, ArgoNamespace: ns}, ns, "big",
		labstatus.WithPollInterval(20*time.Millisecond), labstatus.WithUnschedulableGrace(200*time.Millisecond))
	if !errors.Is(err, labstatus.ErrUnschedulable) {
		t.Fatalf("Wait = %v, want ErrUnschedulable (and not a timeout)", err)
	}
	// Other tests' nodes may be the ones with more free: the message names the scheduler's reason and some fit.
	for _, want := range []string{"the scheduler says: " + why, "what fits now: at most 2× Tesla-T4 with"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not say %q", err, want)
		}
	}
}

func TestNudgeRefreshesTheRootApplicationOfTheBranchAndTheLabs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "nudge")
	putApplication(t, ctx, ns, "labs", "apps", nil)
	putApplication(t, ctx, ns, "someone-elses", "other", nil)
	putApplication(t, ctx, ns, generator.AppName(ns, "ada"), "labs/"+ns+"/ada", nil)
	target := generator.Target{RepoURL: "http://git.example/labs.git", Revision: "main"}
	got, err := labstatus.Nudge(ctx, labstatus.Sources{Cluster: env.Client, ArgoNamespace: ns}, target, ns, "ada")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{generator.AppName(ns, "ada"), "labs"}; !slices.Equal(got, want) {
		t.Errorf("Nudge refreshed %v, want %v", got, want)
	}
	for name, want := range map[string]bool{"labs": true, "someone-elses": false, generator.AppName(ns, "ada"): true} {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(argocd.GroupVersion.WithKind("Application"))
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
			t.Fatal(err)
		}
		if _, has := u.GetAnnotations()[argocd.RefreshAnnotation]; has != want {
			t.Errorf("application %s refresh annotation: %v, want %v", name, has, want)
		}
	}
	other := generator.Target{RepoURL: "http://git.example/labs.git", Revision: "team-b"}
	if _, err := labstatus.Nudge(ctx, labstatus.Sources{Cluster: env.Client, ArgoNamespace: ns}, other, ns, "nobody"); err == nil ||
		!strings.Contains(err.Error(), "no Argo CD application in namespace "+ns+" syncs apps/ of http://git.example/labs.git at team-b") {
		t.Errorf("Nudge for a branch no root application syncs = %v, want an error naming it", err)
	}
}

func TestWriteTextSaysWhyALabIsStoppedAndWhenItExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(s string) *time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	git := func(mod func(*labstatus.Request)) *labstatus.Git {
		r := &labstatus.Request{Owner: "ada", GPU: "1× Tesla-T4", CPU: "2", Memory: "4Gi", Storage: "10Gi"}
		if mod != nil {
			mod(r)
		}
		return &labstatus.Git{Repo: "http://git.example/labs.git", Branch: "main", OnBranch: true, Request: r}
	}
	stopped := func(reason, since string) *labstatus.Lab {
		return &labstatus.Lab{Found: true, Phase: "Stopped", GPUs: "1× Tesla-T4", Current: true,
			Stopped: &labstatus.Stopped{Reason: reason, Since: *at(since)}}
	}
	tests := []struct {
		name      string
		namespace string
		git       *labstatus.Git
		lab       *labstatus.Lab
		want      []string
		not       []string
	}{
		{name: "stopped for being idle", lab: stopped("Idle", "2026-12-01T14:00:00Z"),
			want: []string{"cluster Stopped (Idle since 2026-12-01 14:00:00 UTC, labctl start ada starts it)"}, not: []string{"Tesla-T4"}},
		{name: "stopped by labctl stop, in Git and in the cluster", git: git(func(r *labstatus.Request) { r.Stopped = true }),
			lab:  stopped("Stopped", "2026-12-01T14:00:00Z"),
			want: []string{"; stopped there (labctl start ada starts it)", "cluster Stopped (by labctl stop since 2026-12-01 14:00:00 UTC, labctl start ada starts it)"}},
		{name: "expired, in another namespace",
			namespace: "team-a", git: git(func(r *labstatus.Request) { r.ExpiresAt = at("2026-11-30T10:00:00Z") }),
			lab: stopped("Expired", "2026-11-30T10:00:00Z"),
			want: []string{"expired 2026-11-30 10:00:00 UTC (2 days ago): labctl extend ada -n team-a --for 7d gives it more time",
				"cluster Stopped (Expired since 2026-11-30 10:00:00 UTC, labctl extend ada -n team-a --for 7d gives it more time and starts it)"}},
		{name: "expires in days", git: git(func(r *labstatus.Request) { r.ExpiresAt = at("2026-12-15T10:00:00Z") }),
			want: []string{"expires 2026-12-15 10:00:00 UTC (in 13 days)"}},
		{name: "expires in hours", git: git(func(r *labstatus.Request) { r.ExpiresAt = at("2026-12-02T15:30:00Z") }),
			want: []string{"expires 2026-12-02 15:30:00 UTC (in 5 hours)"}},
		{name: "expires in minutes", git: git(func(r *labstatus.Request) { r.ExpiresAt = at("2026-12-02T10:20:00Z") }),
			want: []string{"expires 2026-12-02 10:20:00 UTC (in 20 minutes)"}},
		{name: "expires now", git: git(func(r *labstatus.Request) { r.ExpiresAt = at("2026-12-02T10:00:00Z") }),
			want: []string{"expired 2026-12-02 10:00:00 UTC (under 2 minutes ago)"}},
		{name: "an idle timeout", git: git(func(r *labstatus.Request) { r.IdleTimeout = "2h" }),
			want: []string{"idle timeout 2h: the lab is stopped after that long without activity"}},
		{name: "never stopped for being idle", git: git(func(r *labstatus.Request) { r.IdleTimeout = "0s" }),
			want: []string{"idle timeout none: the lab is never stopped for being idle"}},
		{name: "no expiry and the controller's idle timeout", git: git(nil), not: []string{"expire", "idle"}},
		{name: "running but idle", git: git(func(r *labstatus.Request) { r.IdleTimeout = "2h" }),
			lab:  &labstatus.Lab{Found: true, Phase: "Ready", Node: "gpu-t4-1", GPUs: "1× Tesla-T4", Current: true, IdleSince: at("2026-12-02T09:15:00Z")},
			want: []string{"cluster Ready on node gpu-t4-1, 1× Tesla-T4; idle since 2026-12-02 09:15:00 UTC (stopped after 2h of that)"}},
		{name: "volumes", git: git(func(r *labstatus.Request) { r.Volumes = []string{"imagenet:/data/imagenet:ro", "scratch:/scratch"} }),
			want: []string{"volumes imagenet:/data/imagenet:ro, scratch:/scratch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &labstatus.Status{Namespace: cmp.Or(tt.namespace, "jupyter"), Name: "ada", Git: tt.git, Lab: tt.lab}
			var b strings.Builder
			if err := labstatus.WriteText(&b, st, labstatus.TextAt(now)); err != nil {
				t.Fatal(err)
			}
			words := strings.Join(strings.Fields(b.String()), " ") // columns are padded to fit
			for _, w := range tt.want {
				if !strings.Contains(words, w) {
					t.Errorf("text does not say %q:\n%s", w, b.String())
				}
			}
			_, rest, _ := strings.Cut(b.String(), "\n") // the lines after the one that names the lab and its request
			for _, w := range tt.not {
				if strings.Contains(rest, w) {
					t.Errorf("text says %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestStatusReadsStoppedIdleAndExpiryFromGitAndTheCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "stopped")
	lab := newLab(ns, "ada", 1)
	expires := metav1.NewTime(time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC))
	lab.Spec.ExpiresAt, lab.Spec.IdleTimeout, lab.Spec.Stopped = &expires, &metav1.Duration{Duration: 90 * time.Minute}, true
	shm := resource.MustParse("1Gi")
	lab.Spec.ShmSize = &shm
	lab.Spec.Volumes = []labkitv1alpha1.VolumeMount{{ClaimName: "imagenet", MountPath: "/data/imagenet", ReadOnly: true}}
	pub, _ := publish(t, lab)
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	other := newLab(ns, "bob", 0)
	if err := env.Client.Create(ctx, other.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	since := metav1.NewTime(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	lab.Status = labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseStopped, ObservedGeneration: lab.Generation,
		Stopped: &labkitv1alpha1.StoppedStatus{Reason: labkitv1alpha1.ReasonIdle, Since: since}, IdleSince: &since}
	if err := env.Client.Status().Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
	setLabStatus(t, ctx, other, labkitv1alpha1.PhaseReady, "cpu-1")

	st, err := labstatus.Get(ctx, labstatus.Sources{Git: pub, Cluster: env.Client, ArgoNamespace: ns}, ns, "ada")
	if err != nil {
		t.Fatal(err)
	}
	r, l := st.Git.Request, st.Lab
	if !r.Stopped || r.ExpiresAt == nil || !r.ExpiresAt.Equal(expires.Time) || r.IdleTimeout != "1h30m" || r.Shm != "1Gi" ||
		!slices.Equal(r.Volumes, []string{"imagenet:/data/imagenet:ro"}) {
		t.Errorf("git request = %+v", r)
	}
	if l.Stopped == nil || l.Stopped.Reason != "Idle" || !l.Stopped.Since.Equal(since.Time) || l.IdleSince == nil || !l.IdleSince.Equal(since.Time) {
		t.Errorf("lab = %+v (stopped %+v)", l, l.Stopped)
	}
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"stopped":true`, `"expiresAt":"2099-01-02T03:04:05Z"`, `"idleTimeout":"1h30m"`, `"shm":"1Gi"`,
		`"volumes":["imagenet:/data/imagenet:ro"]`, `"stopped":{"reason":"Idle","since":"2026-12-01T14:00:00Z"}`, `"idleSince":"2026-12-01T14:00:00Z"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON has no %s:\n%s", key, data)
		}
	}

	labs, err := labstatus.ClusterLabs(ctx, labstatus.Sources{Cluster: env.Client}, ns, ns)
	if err != nil {
		t.Fatal(err)
	}
	a, b := labs[client.ObjectKey{Namespace: ns, Name: "ada"}], labs[client.ObjectKey{Namespace: ns, Name: "bob"}]
	if len(labs) != 2 || a == nil || a.PhaseText() != "Stopped (Idle)" || b == nil || b.PhaseText() != "Ready" || b.URL == "" {
		t.Errorf("ClusterLabs = %v, want ada Stopped (Idle) and bob Ready with a URL", labs)
	}
	if _, err := labstatus.ClusterLabs(ctx, labstatus.Sources{ClusterErr: errors.New("no kubeconfig")}, ns); err == nil || err.Error() != "no kubeconfig" {
		t.Errorf("ClusterLabs without a cluster = %v, want the reason there is none", err)
	}
}

func TestWaitStoppedWaitsUntilTheLabsPodIsGone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "stopwait")
	lab := newLab(ns, "ada", 1)
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseReady, "gpu-t4-1")
	// The finalizer keeps the pod terminating, as a pod whose container is still shutting down is.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ada-0", Namespace: ns, Labels: map[string]string{labkitv1alpha1.LabLabel: "ada"},
			Finalizers: []string{"labkit.dev/test-hold"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jupyter", Image: "jupyter"}}},
	}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	var p progress
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		done <- labstatus.WaitStopped(ctx, labstatus.Sources{Cluster: env.Client}, ns, "ada",
			labstatus.WithProgress(p.add), labstatus.WithPollInterval(20*time.Millisecond))
	}()
	p.until(t, "waiting for the lab to stop: it is Ready on node gpu-t4-1, 1× Tesla-T4")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(lab), lab); err != nil {
		t.Fatal(err)
	}
	lab.Status = labkitv1alpha1.JupyterLabStatus{Phase: labkitv1alpha1.PhaseStopped, ObservedGeneration: lab.Generation,
		Stopped: &labkitv1alpha1.StoppedStatus{Reason: labkitv1alpha1.ReasonStopped, Since: metav1.Now()}}
	if err := env.Client.Status().Update(ctx, lab); err != nil {
		t.Fatal(err)
	}
	p.until(t, "stopped; waiting for pod ada-0 to go (Pending)")
	if err := env.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p.until(t, "stopped; waiting for pod ada-0 to go (terminating)")
	select {
	case err := <-done:
		t.Fatalf("WaitStopped returned while the pod was terminating: %v\n%s", err, &p)
	default:
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Finalizers = nil
	if err := env.Client.Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitStopped = %v\nprogress:\n%s", err, &p)
	}
	if last := p.lines[len(p.lines)-1]; last != "stopped: no pod of lab "+ns+"/ada is left" {
		t.Errorf("last progress line %q", last)
	}
}

func TestWaitStoppedGivesUpSayingWhatItSawLast(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "stopslow")
	lab := newLab(ns, "ada", 0)
	if err := env.Client.Create(ctx, lab.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	setLabStatus(t, ctx, lab, labkitv1alpha1.PhaseReady, "cpu-1")
	// A client of its own, not held back by the rate limit the other tests' polls use up.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err = labstatus.WaitStopped(ctx, labstatus.Sources{Cluster: c}, ns, "ada", labstatus.WithPollInterval(20*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "waiting for lab "+ns+"/ada to stop and its pod to go; last seen: waiting for the lab to stop: it is Ready on node cpu-1") {
		t.Errorf("WaitStopped = %v, want it to give up saying what it saw", err)
	}
	// A lab the cluster does not have runs no pod.
	if err := labstatus.WaitStopped(t.Context(), labstatus.Sources{Cluster: env.Client}, ns, "nobody"); err != nil {
		t.Errorf("WaitStopped of a lab not in the cluster = %v", err)
	}
}

func TestStatusReadsALabOfTheNamespaceLayoutFromItsEntryInTheNamespacesApplication(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "nslayout")
	lab := newLab(ns, "ada", 1)
	pub, commit := publish(t, lab)
	// The namespace's Application is Synced and Healthy as a whole, but this lab is not yet.
	app := pub.Target.NamespaceAppName(ns)
	entry := func(sync, health string) map[string]any {
		return map[string]any{
			"sync":   map[string]any{"status": "Synced", "revision": commit},
			"health": map[string]any{"status": "Healthy"},
			"resources": []any{
				map[string]any{"group": "labkit.dev", "version": "v1alpha1", "kind": "JupyterLab", "namespace": ns, "name": "other", "status": "Synced",
					"health": map[string]any{"status": "Healthy"}},
				map[string]any{"group": "labkit.dev", "version": "v1alpha1", "kind": "JupyterLab", "namespace": ns, "name": "ada", "status": sync,
					"health": map[string]any{"status": health}},
			},
		}
	}
	// As Argo CD 3 writes it by default: no health per resource. The Application's Healthy is the worst
	// of its resources', so it holds for the lab; an unhealthy Application says nothing of this lab.
	noHealth := func(appHealth string) map[string]any {
		st := entry("Synced", "")
		for _, r := range st["resources"].([]any) {
			delete(r.(map[string]any), "health")
		}
		st["health"] = map[string]any{"status": appHealth}
		return st
	}
	src := labstatus.Sources{Git: pub, Cluster: env.Client, ArgoNamespace: ns}
	var st *labstatus.Status
	for _, c := range []struct {
		what                 string
		status               map[string]any
		wantSync, wantHealth string
	}{
		{"the lab's own entry, not the Application's", entry("OutOfSync", "Missing"), "OutOfSync", "Missing"},
		{"the entry Synced and Healthy", entry("Synced", "Healthy"), "Synced", "Healthy"},
		{"no health per resource, the Application Healthy", noHealth("Healthy"), "Synced", "Healthy"},
		{"no health per resource, the Application Degraded", noHealth("Degraded"), "Synced", ""},
		{"the entry Synced and Healthy again", entry("Synced", "Healthy"), "Synced", "Healthy"},
	} {
		putApplication(t, ctx, ns, app, "labs/"+ns, c.status)
		var err error
		if st, err = labstatus.Get(ctx, src, ns, "ada"); err != nil {
			t.Fatal(err)
		}
		if a := st.ArgoCD; a == nil || !a.Found || a.Application != app || a.Revision != commit || a.Sync != c.wantSync || a.Health != c.wantHealth {
			t.Errorf("%s: argo cd part = %+v; want %s of %s at %s, health %q", c.what, a, c.wantSync, app, commit, c.wantHealth)
		}
	}
	var text strings.Builder
	if err := labstatus.WriteText(&text, st); err != nil {
		t.Fatal(err)
	}
	if want := "application " + app + ": Synced at " + commit[:7] + ", Healthy"; !strings.Contains(text.String(), want) {
		t.Errorf("text does not say %q:\n%s", want, text.String())
	}
	// Nudge refreshes the namespace's Application, which syncs the lab.
	refreshed, err := labstatus.Nudge(ctx, src, pub.Target, ns, "ada")
	if err != nil || !slices.Contains(refreshed, app) {
		t.Errorf("Nudge = %v, %v; want it to refresh %s", refreshed, err, app)
	}
}

func TestWaitReleasedAndWaitSwitchedSayWhatTheyStillWaitFor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := namespace(t, "switch")
	src := labstatus.Sources{Cluster: env.Client, ArgoNamespace: ns}
	putApplication(t, ctx, ns, "lab-a", "labs/"+ns+"/a", nil)
	app := &unstructured.Unstructured{}
	app.SetGroupVersionKind(argocd.GroupVersion.WithKind("Application"))
	app.SetNamespace(ns)
	app.SetName("lab-a")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
		t.Fatal(err)
	}
	app.SetFinalizers([]string{argocd.ResourcesFinalizer})
	if err := env.Client.Update(ctx, app); err != nil {
		t.Fatal(err)
	}
	// Long enough for a first look on a loaded machine; the waits that should end do so at once.
	giveUp := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		t.Cleanup(cancel)
		return c
	}
	fast := labstatus.WithPollInterval(20 * time.Millisecond)
	err := labstatus.WaitReleased(giveUp(), src, []string{"lab-a", "lab-gone"}, fast)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 Applications still delete their labs when removed (lab-a)") {
		t.Errorf("WaitReleased with the finalizer on = %v; want it to name lab-a", err)
	}
	err = labstatus.WaitSwitched(giveUp(), src, []string{"lab-a"}, []string{"ns-" + ns}, "abc1234", fast)
	if err == nil || !strings.Contains(err.Error(), "old Applications left: lab-a; new ones not synced at abc1234: ns-"+ns+" (not created yet)") {
		t.Errorf("WaitSwitched before Argo CD = %v", err)
	}

	// Argo CD applies step 1, then step 2.
	app.SetFinalizers(nil)
	if err := env.Client.Update(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := labstatus.WaitReleased(giveUp(), src, []string{"lab-a", "lab-gone"}, fast); err != nil {
		t.Errorf("WaitReleased without the finalizer = %v", err)
	}
	if err := env.Client.Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	putApplication(t, ctx, ns, "ns-"+ns, "labs/"+ns, map[string]any{"sync": map[string]any{"status": "Synced", "revision": "abc1234"}})
	if err := labstatus.WaitSwitched(giveUp(), src, []string{"lab-a"}, []string{"ns-" + ns}, "abc1234", fast); err != nil {
		t.Errorf("WaitSwitched once Argo CD synced step 2 = %v", err)
	}

	// Someone pushed after step 2: Argo CD synced a later commit, which includes step 2; an earlier
	// one does not.
	pub, step2 := publish(t, newLab(ns, "a", 0))
	res, _, err := pub.Create(ctx, []*labkitv1alpha1.JupyterLab{newLab(ns, "b", 0)}, false)
	if err != nil {
		t.Fatal(err)
	}
	src.Git = pub
	putApplication(t, ctx, ns, "ns-"+ns, "labs/"+ns, map[string]any{"sync": map[string]any{"status": "Synced", "revision": res.Commit}})
	if err := labstatus.WaitSwitched(giveUp(), src, []string{"lab-a"}, []string{"ns-" + ns}, step2, fast); err != nil {
		t.Errorf("WaitSwitched with Argo CD at a later commit = %v", err)
	}
	putApplication(t, ctx, ns, "ns-"+ns, "labs/"+ns, map[string]any{"sync": map[string]any{"status": "Synced", "revision": step2}})
	err = labstatus.WaitSwitched(giveUp(), src, []string{"lab-a"}, []string{"ns-" + ns}, res.Commit, fast)
	if want := "new ones not synced at " + res.Commit[:7] + ": ns-" + ns + " (Synced at " + step2[:7] + ")"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WaitSwitched with Argo CD at an earlier commit = %v; want it to say %q", err, want)
	}
}
