// Package catalog describes what a cluster's nodes offer (GPU model, free GPUs, CPU and memory) and answers whether a lab fits.
package catalog
