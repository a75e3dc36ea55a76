// Package shared holds the flags and set-up that several labctl commands share.
package shared
