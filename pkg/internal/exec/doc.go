// Package exec runs command-line programs with arguments as a slice and returns errors that carry the command and its output.
package exec
