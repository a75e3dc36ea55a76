package argocd

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The Argo CD module needs a newer Go and replace directives that would leak into labkit, so its
// Application is described here with only the fields labkit uses. Unknown fields survive a
// round trip through unstructured objects, never through these types: use them to write and read,
// not to update live objects.

// GroupVersion of Argo CD's Application.
var GroupVersion = schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"}

// ResourcesFinalizer makes Argo CD delete an Application's resources when the Application is deleted.
const ResourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

// Sync and health statuses.
const (
	SyncStatusSynced      = "Synced"
	HealthStatusHealthy   = "Healthy"
	HealthStatusSuspended = "Suspended"
)

// Application is an Argo CD Application.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ApplicationSpec   `json:"spec"`
	Status            ApplicationStatus `json:"status,omitempty"`
}

// ApplicationSpec is where an Application's manifests come from and where they go.
type ApplicationSpec struct {
	Project     string      `json:"project"`
	Source      Source      `json:"source"`
	Destination Destination `json:"destination"`
	SyncPolicy  *SyncPolicy `json:"syncPolicy,omitempty"`
}

// Source is a path of a Git repository at a revision.
type Source struct {
	RepoURL        string     `json:"repoURL"`
	Path           string     `json:"path,omitempty"`
	TargetRevision string     `json:"targetRevision,omitempty"`
	Directory      *Directory `json:"directory,omitempty"`
}

// Directory says how a plain directory of manifests is read.
type Directory struct {
	Recurse bool `json:"recurse,omitempty"`
}

// Destination is a cluster and namespace.
type Destination struct {
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// SyncPolicy makes Argo CD sync on its own.
type SyncPolicy struct {
	Automated   *Automated `json:"automated,omitempty"`
	SyncOptions []string   `json:"syncOptions,omitempty"`
}

// Automated sync: prune removes what left Git, selfHeal undoes changes made in the cluster, and
// allowEmpty lets a sync prune the last resource (Argo CD refuses to otherwise).
type Automated struct {
	Prune      bool `json:"prune,omitempty"`
	SelfHeal   bool `json:"selfHeal,omitempty"`
	AllowEmpty bool `json:"allowEmpty,omitempty"`
}

// ApplicationStatus is what Argo CD reports.
type ApplicationStatus struct {
	Sync   SyncStatus   `json:"sync,omitempty"`
	Health HealthStatus `json:"health,omitempty"`
	// OperationState is the last sync operation, with its message when it failed.
	OperationState *OperationState `json:"operationState,omitempty"`
	// Conditions are Argo CD's errors and warnings, such as a repository it cannot read.
	Conditions []ApplicationCondition `json:"conditions,omitempty"`
	// ReconciledAt is when Argo CD last compared the Application with Git.
	ReconciledAt *metav1.Time `json:"reconciledAt,omitempty"`
	// Resources are the Application's resources, each with its own sync and health.
	Resources []ResourceStatus `json:"resources,omitempty"`
}

// ResourceStatus is one resource of an Application: Status is Synced or OutOfSync.
type ResourceStatus struct {
	Group     string        `json:"group,omitempty"`
	Kind      string        `json:"kind,omitempty"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name,omitempty"`
	Status    string        `json:"status,omitempty"`
	Health    *HealthStatus `json:"health,omitempty"`
}

// Resource is the status of the Application's resource of group and kind named namespace/name, or nil
// when the Application has no such resource (or Argo CD has not compared it yet).
func (a *Application) Resource(group, kind, namespace, name string) *ResourceStatus {
	for i, r := range a.Status.Resources {
		if r.Group == group && r.Kind == kind && r.Namespace == namespace && r.Name == name {
			return &a.Status.Resources[i]
		}
	}
	return nil
}

// SyncStatus compares the cluster with Git at Revision.
type SyncStatus struct {
	Status   string `json:"status,omitempty"`
	Revision string `json:"revision,omitempty"`
}

// HealthStatus is the health of the Application's resources.
type HealthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// ApplicationCondition is an error or warning about an Application.
type ApplicationCondition struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// OperationState is the state of the last sync.
type OperationState struct {
	Phase   string `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
}
