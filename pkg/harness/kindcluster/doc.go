// Package kindcluster creates, reuses and deletes kind clusters whose nodes advertise fake GPUs.
package kindcluster
