package generator

import (
	"cmp"
	"fmt"
	"path"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/kobj"
)

// The GitOps repository layout (docs/gitops-layout.md), in one of two ways per namespace (Layout):
//
//	apps/<namespace>/<name>.yaml              Argo CD Application of one lab (LayoutLab)
//	apps/<namespace>.yaml                     or: Application of all the namespace's labs (LayoutNamespace)
//	labs/<namespace>/<name>/jupyterlab.yaml   the lab
//
// One root Application (RootApplication) syncs apps/, so adding or removing Application files is all
// it takes to create or delete labs.
const (
	AppsDir = "apps"
	LabsDir = "labs"
	labFile = "jupyterlab.yaml"
)

// LabDir is the folder of a lab's manifests.
func LabDir(namespace, name string) string { return path.Join(LabsDir, namespace, name) }

// LabPath is the file of a lab.
func LabPath(namespace, name string) string { return path.Join(LabDir(namespace, name), labFile) }

// AppPath is the file of a lab's Application.
func AppPath(namespace, name string) string { return path.Join(AppsDir, namespace, name+".yaml") }

// Layout is how a namespace's labs are handed to Argo CD: one Application per lab, or one for the
// whole namespace. It is chosen per namespace, when its first lab is created, and read from the branch
// after that (Target.LayoutOf); Relayout switches a branch from one to the other without deleting a lab.
type Layout string

const (
	// LayoutLab is one Application per lab, apps/<namespace>/<name>.yaml: Argo CD shows each lab's
	// sync and health on its own, and a lab can be synced, paused or rolled back alone. Argo CD then
	// handles as many Applications as there are labs, which is what bounds how fast a large commit lands.
	LayoutLab Layout = "lab"
	// LayoutNamespace is one Application per namespace, apps/<namespace>.yaml, which syncs
	// labs/<namespace>/ recursively: a commit of a thousand labs is one sync. Each lab's sync and health
	// are still in that Application's status, one entry per lab, which labctl status reads.
	LayoutNamespace Layout = "namespace"
)

// Layouts are the layouts there are, as --layout takes them.
var Layouts = []Layout{LayoutLab, LayoutNamespace}

// ParseLayout reads a layout as a person writes it on the command line.
func ParseLayout(flag, s string) (Layout, error) {
	for _, l := range Layouts {
		if string(l) == s {
			return l, nil
		}
	}
	return "", fmt.Errorf("%s %q: give %q for one Argo CD Application per lab (each lab's sync shown on its own), or %q for one per namespace (much faster for many labs)",
		flag, s, LayoutLab, LayoutNamespace)
}

func (l Layout) describe() string {
	if l == LayoutNamespace {
		return "one Application for the whole namespace"
	}
	return "one Application per lab"
}

// Target is where Argo CD finds the repository and puts the labs.
//
// Branches are used one of two ways (docs/gitops-layout.md):
//   - as proposals: labctl pushes to a person's branch, which is merged (a pull request) into the
//     branch Argo CD follows, Revision; the Applications name Revision, so they keep working once the
//     person's branch is merged and deleted;
//   - as environments: each branch is one, with a root Application of its own (RootApplication) that
//     syncs apps/<Environment>/ only, and Applications named lab-<Environment>-<namespace>-<name>, so
//     that any number of branches coexist on one Argo CD; Revision is the branch itself.
type Target struct {
	// RepoURL is the repository as Argo CD reaches it (it may differ from the push remote).
	RepoURL string
	// Revision is the branch Argo CD follows.
	Revision string
	// Environment is the environment the branch is (EnvironmentOf the branch), or empty when one root
	// Application follows Revision.
	Environment string
	// ArgoNamespace is the namespace Argo CD watches for Applications; default "argocd".
	ArgoNamespace string
	// Project is the Argo CD project; default "default".
	Project string
	// Layout is the layout of namespaces the branch has no labs in yet; empty is LayoutLab. A namespace
	// that has labs keeps its own (LayoutOf), and a Layout set here that differs from it is refused.
	Layout Layout
}

func (t Target) withDefaults() Target {
	if t.ArgoNamespace == "" {
		t.ArgoNamespace = "argocd"
	}
	if t.Project == "" {
		t.Project = "default"
	}
	if t.Revision == "" {
		t.Revision = "HEAD"
	}
	return t
}

// AppName is the name of a lab's Application, with no environment (see Target.AppName).
func AppName(namespace, name string) string { return Target{}.AppName(namespace, name) }

// AppName is the name of a lab's Application: lab-<namespace>-<name>, or in an environment
// lab-<environment>-<namespace>-<name>.
func (t Target) AppName(namespace, name string) string {
	if t.Environment != "" {
		return "lab-" + t.Environment + "-" + namespace + "-" + name
	}
	return "lab-" + namespace + "-" + name
}

// AppsDir is the folder the root Application syncs: apps/, or apps/<environment>/.
func (t Target) AppsDir() string { return path.Join(AppsDir, t.Environment) }

// AppPath is the file of a lab's Application, under AppsDir.
func (t Target) AppPath(namespace, name string) string {
	return path.Join(t.AppsDir(), namespace, name+".yaml")
}

// NamespaceAppName is the name of the Application of a namespace's labs in LayoutNamespace:
// ns-<namespace>, or in an environment ns-<environment>-<namespace>. The prefix keeps it apart from
// the root Application (labs...) and from labs' Applications (lab-...).
func (t Target) NamespaceAppName(namespace string) string {
	if t.Environment != "" {
		return "ns-" + t.Environment + "-" + namespace
	}
	return "ns-" + namespace
}

// NamespaceAppPath is the file of a namespace's Application in LayoutNamespace, beside the folder that
// holds the Applications of the namespace's labs in LayoutLab.
func (t Target) NamespaceAppPath(namespace string) string {
	return path.Join(t.AppsDir(), namespace+".yaml")
}

// AppNames are the names a lab's Application has in either layout: its own first, then its namespace's.
func (t Target) AppNames(namespace, name string) []string {
	return []string{t.AppName(namespace, name), t.NamespaceAppName(namespace)}
}

// LayoutOf is the layout namespace has on the branch tree: LayoutNamespace if it has the namespace's
// Application, LayoutLab if it has labs' Applications, and false if it has neither (no lab yet).
func (t Target) LayoutOf(tree *gitops.Tree, namespace string) (Layout, bool) {
	if tree.Has(t.NamespaceAppPath(namespace)) {
		return LayoutNamespace, true
	}
	for _, f := range tree.List(path.Join(t.AppsDir(), namespace)) {
		if path.Ext(f) == ".yaml" {
			return LayoutLab, true
		}
	}
	return "", false
}

// layoutFor is the layout a new lab in namespace gets: the namespace's own, or Target.Layout for a
// namespace with no labs yet. A Layout set in Target that differs from the namespace's is refused,
// since the namespace's labs would then have two Applications each.
func (t Target) layoutFor(tree *gitops.Tree, namespace string) (Layout, error) {
	has, ok := t.LayoutOf(tree, namespace)
	switch {
	case !ok:
		return cmp.Or(t.Layout, LayoutLab), nil
	case t.Layout != "" && t.Layout != has:
		return "", fmt.Errorf("namespace %s on this branch has %s (layout %q), and --layout %s would give its labs a second: leave --layout out to follow the branch, or switch the branch first with `labctl layout %s`, which keeps every lab running",
			namespace, has.describe(), has, t.Layout, t.Layout)
	}
	return has, nil
}

// EnvironmentOf is the environment name of a branch, for the names of its Applications: the branch
// in lower case with every character but letters, digits and '-' made '-', e.g. feature/alice is
// feature-alice.
func EnvironmentOf(branch string) string {
	b := []byte(strings.ToLower(branch))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}

// Application is the Argo CD Application that syncs one lab. It prunes and self-heals, creates the
// lab's namespace, and carries Argo CD's resources finalizer so that deleting it deletes the lab.
func Application(lab *labkitv1alpha1.JupyterLab, t Target) *argocd.Application {
	t = t.withDefaults()
	return &argocd.Application{
		TypeMeta: metav1.TypeMeta{APIVersion: argocd.GroupVersion.String(), Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{
			Name:       t.AppName(lab.Namespace, lab.Name),
			Namespace:  t.ArgoNamespace,
			Labels:     map[string]string{labkitv1alpha1.LabLabel: lab.Name, labkitv1alpha1.OwnerLabel: lab.Spec.Owner},
			Finalizers: []string{argocd.ResourcesFinalizer},
		},
		Spec: argocd.ApplicationSpec{
			Project:     t.Project,
			Source:      argocd.Source{RepoURL: t.RepoURL, Path: LabDir(lab.Namespace, lab.Name), TargetRevision: t.Revision},
			Destination: argocd.Destination{Server: "https://kubernetes.default.svc", Namespace: lab.Namespace},
			SyncPolicy: &argocd.SyncPolicy{
				Automated:   &argocd.Automated{Prune: true, SelfHeal: true},
				SyncOptions: []string{"CreateNamespace=true"},
			},
		},
	}
}

// NamespaceApplication is the Argo CD Application that syncs every lab of a namespace (LayoutNamespace):
// labs/<namespace>/, recursively, into the namespace. It prunes and self-heals, creates the namespace,
// and carries Argo CD's resources finalizer, so that deleting it deletes the namespace's labs. A sync
// applies only the labs that differ from Git (ApplyOutOfSyncOnly, Argo CD's "selective sync" for
// Applications of many resources): otherwise each commit would apply every lab of the namespace again,
// and one more lab beside 1,000 waited for the other 1,000 (bench-scale: 12.1 s with the refresh nudge).
func NamespaceApplication(namespace string, t Target) *argocd.Application {
	t = t.withDefaults()
	return &argocd.Application{
		TypeMeta: metav1.TypeMeta{APIVersion: argocd.GroupVersion.String(), Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{
			Name:       t.NamespaceAppName(namespace),
			Namespace:  t.ArgoNamespace,
			Finalizers: []string{argocd.ResourcesFinalizer},
		},
		Spec: argocd.ApplicationSpec{
			Project: t.Project,
			Source: argocd.Source{RepoURL: t.RepoURL, Path: path.Join(LabsDir, namespace), TargetRevision: t.Revision,
				Directory: &argocd.Directory{Recurse: true}},
			Destination: argocd.Destination{Server: "https://kubernetes.default.svc", Namespace: namespace},
			SyncPolicy: &argocd.SyncPolicy{
				Automated:   &argocd.Automated{Prune: true, SelfHeal: true},
				SyncOptions: []string{"CreateNamespace=true", "ApplyOutOfSyncOnly=true"},
			},
		},
	}
}

// RootApplication syncs every lab Application under t.AppsDir() (app of apps): apps/, or an
// environment's apps/<environment>/. Removing a lab's file prunes its Application, whose finalizer then
// deletes the lab; removing the last one is allowed. Name it after the environment, if any, so that
// the root Applications of several environments coexist.
func RootApplication(name string, t Target) *argocd.Application {
	t = t.withDefaults()
	return &argocd.Application{
		TypeMeta:   metav1.TypeMeta{APIVersion: argocd.GroupVersion.String(), Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.ArgoNamespace},
		Spec: argocd.ApplicationSpec{
			Project:     t.Project,
			Source:      argocd.Source{RepoURL: t.RepoURL, Path: t.AppsDir(), TargetRevision: t.Revision, Directory: &argocd.Directory{Recurse: true}},
			Destination: argocd.Destination{Server: "https://kubernetes.default.svc", Namespace: t.ArgoNamespace},
			SyncPolicy:  &argocd.SyncPolicy{Automated: &argocd.Automated{Prune: true, SelfHeal: true, AllowEmpty: true}},
		},
	}
}

// Render returns the files of a lab in layout l (empty: t.Layout, else LayoutLab): its manifest, and
// its Application or its namespace's.
func Render(lab *labkitv1alpha1.JupyterLab, t Target, l Layout) ([]gitops.Change, error) {
	file, err := renderLab(lab)
	if err != nil {
		return nil, err
	}
	app, err := renderApp(lab, t, cmp.Or(l, t.Layout, LayoutLab))
	if err != nil {
		return nil, err
	}
	return []gitops.Change{file, app}, nil
}

// renderLab is the lab's own file.
func renderLab(lab *labkitv1alpha1.JupyterLab) (gitops.Change, error) {
	data, err := kobj.YAML(lab)
	if err != nil {
		return gitops.Change{}, fmt.Errorf("render lab %s: %w", lab.Name, err)
	}
	return gitops.Change{Path: LabPath(lab.Namespace, lab.Name), Content: data}, nil
}

// renderApp is the Application file that syncs lab in layout l.
func renderApp(lab *labkitv1alpha1.JupyterLab, t Target, l Layout) (gitops.Change, error) {
	if l == LayoutNamespace {
		data, err := kobj.YAML(NamespaceApplication(lab.Namespace, t))
		if err != nil {
			return gitops.Change{}, fmt.Errorf("render application of namespace %s: %w", lab.Namespace, err)
		}
		return gitops.Change{Path: t.NamespaceAppPath(lab.Namespace), Content: data}, nil
	}
	data, err := kobj.YAML(Application(lab, t))
	if err != nil {
		return gitops.Change{}, fmt.Errorf("render application of lab %s: %w", lab.Name, err)
	}
	return gitops.Change{Path: t.AppPath(lab.Namespace, lab.Name), Content: data}, nil
}

// RootAppName is the name of the root Application of t: labs, or labs-<environment>.
func RootAppName(t Target) string {
	if t.Environment != "" {
		return "labs-" + t.Environment
	}
	return "labs"
}

// RenderRootApplication returns RootApplication as YAML, to apply once per repository and branch.
func RenderRootApplication(name string, t Target) ([]byte, error) {
	return kobj.YAML(RootApplication(name, t))
}
