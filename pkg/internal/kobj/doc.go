// Package kobj converts typed Kubernetes objects to the plain maps that are matched, patched and rendered.
package kobj
