// Package labkitcontroller is the command of the labkit controller manager.
package labkitcontroller
