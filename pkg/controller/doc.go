// Package controller reconciles JupyterLab resources into the Deployment, Service, PVC and Secret that run them.
package controller
