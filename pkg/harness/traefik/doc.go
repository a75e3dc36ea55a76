// Package traefik installs a pinned Traefik ingress controller into a test cluster, exposed on a fixed NodePort, and waits until it serves.
package traefik
