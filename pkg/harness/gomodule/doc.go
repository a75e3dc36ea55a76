// Package gomodule reads files out of a pinned Go module, fetched and checksummed by the go command.
package gomodule
