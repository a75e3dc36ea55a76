// Package gitserver serves bare Git repositories over smart HTTP from the host, for clusters under test to clone.
package gitserver
