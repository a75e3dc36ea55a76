// Package v1alpha1 contains the JupyterLab API of the labkit.dev group.
// +kubebuilder:object:generate=true
// +groupName=labkit.dev
package v1alpha1
