// Package labctl is the command tree of labctl, the JupyterLab generator.
package labctl
