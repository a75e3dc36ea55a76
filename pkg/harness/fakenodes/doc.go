// Package fakenodes declares pools of fake nodes next to a kind config, creates them for kwok to drive,
// and installs kwok into a cluster.
package fakenodes
