// Package generator turns a person's request for a JupyterLab into the files of a GitOps repository.
package generator
