// Package intervals is one table of named waits for a test suite or benchmark, and one way to wait on
// a condition with them. Like cluster-api's e2e config (intervals: default/wait-...), every wait of a
// run is named in one place, so that a slow machine can stretch them all (Scale) or some (Load), and
// a timeout says which wait it was and what it last saw.
package intervals
