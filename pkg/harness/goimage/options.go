package goimage

import "io"

// An Option changes how Build builds.
type Option interface{ apply(*options) }

type options struct {
	base    string
	gcflags string
	push    bool
	strip   bool
	out     io.Writer
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithBase puts the binary on image base instead of DefaultBase.
func WithBase(base string) Option { return optionFunc(func(o *options) { o.base = base }) }

// WithGCFlags compiles with -gcflags=flags, e.g. skaffold debug's "all=-N -l".
func WithGCFlags(flags string) Option { return optionFunc(func(o *options) { o.gcflags = flags }) }

// WithPush pushes the image after building it, when push is true (skaffold's $PUSH_IMAGE).
func WithPush(push bool) Option { return optionFunc(func(o *options) { o.push = push }) }

// WithOutput says what was built on w instead of os.Stderr.
func WithOutput(w io.Writer) Option { return optionFunc(func(o *options) { o.out = w }) }

// WithStrip leaves the symbol table and debug information out of the binary (-ldflags="-s -w"):
// less to copy into the cluster on every rebuild, but nothing for a debugger to read.
func WithStrip(strip bool) Option { return optionFunc(func(o *options) { o.strip = strip }) }
