// Package manifests holds the labkit install manifests (CRD, RBAC, controller Deployment) and renders them.
package manifests
