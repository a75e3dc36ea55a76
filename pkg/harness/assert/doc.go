// Package assert waits until live Kubernetes objects contain expected partial objects written as YAML, or explains how they differ.
package assert
