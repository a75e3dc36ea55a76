package generator

import (
	"fmt"
	"path"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/argocd"
	"github.com/labkit-dev/labkit/pkg/gitops"
	"github.com/labkit-dev/labkit/pkg/internal/kobj"
)

// The GitOps repository layout (docs/gitops-layout.md):
//
//	apps/<namespace>/<name>.yaml              Argo CD Application of one lab
//	labs/<namespace>/<name>/jupyterlab.yaml   the lab
//
// One root Application (RootApplication) syncs apps/, so adding or removing a lab's Application file
// is all it takes to create or delete the lab.
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

// Render returns the files of a lab: its manifest and its Application.
func Render(lab *labkitv1alpha1.JupyterLab, t Target) ([]gitops.Change, error) {
	labYAML, err := kobj.YAML(lab)
	if err != nil {
		return nil, fmt.Errorf("render lab %s: %w", lab.Name, err)
	}
	appYAML, err := kobj.YAML(Application(lab, t))
	if err != nil {
		return nil, fmt.Errorf("render application of lab %s: %w", lab.Name, err)
	}
	return []gitops.Change{
		{Path: LabPath(lab.Namespace, lab.Name), Content: labYAML},
		{Path: t.AppPath(lab.Namespace, lab.Name), Content: appYAML},
	}, nil
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
