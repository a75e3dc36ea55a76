package main

import (
	"flag"
	"io"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/intervals"
	"github.com/labkit-dev/labkit/pkg/stack"
)

func TestScaleStretchesOnlyTheWaitsOnEveryLab(t *testing.T) {
	before := stack.Waits
	t.Cleanup(func() { stack.Waits = before })
	fs := flag.NewFlagSet("bench-scale", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := intervals.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := stretchWaits(f, 5); err != nil {
		t.Fatal(err)
	}
	for _, name := range before.Names() {
		want := before.Get(name)
		for _, lab := range labWaits {
			if name == lab {
				want.Timeout *= 5
			}
		}
		if got := stack.Waits.Get(name); got != want {
			t.Errorf("%s: got %+v at --scale=5, want %+v", name, got, want)
		}
	}
}
