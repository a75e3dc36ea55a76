// Package evidence writes what a failing end-to-end test leaves behind: events, objects as YAML and pod logs.
package evidence
