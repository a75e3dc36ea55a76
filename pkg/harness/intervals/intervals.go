package intervals

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// An Interval is how long a wait may take and how often it looks.
type Interval struct {
	Timeout, Poll time.Duration
}

// A Table holds the named intervals of a run, e.g. "wait-lab-ready".
type Table map[string]Interval

// Get is the interval name has; a name the table does not hold is a mistake of the program, not of
// the machine, and panics with the names it does hold.
func (t Table) Get(name string) Interval {
	iv, ok := t[name]
	if !ok {
		panic(fmt.Sprintf("intervals: no wait named %q; the table has %s", name, strings.Join(t.Names(), ", ")))
	}
	return iv
}

// Timeout is the timeout of the wait name.
func (t Table) Timeout(name string) time.Duration { return t.Get(name).Timeout }

// Names are the table's names, sorted.
func (t Table) Names() []string { return slices.Sorted(maps.Keys(t)) }

// With is t and the intervals of more, which replace t's of the same name.
func (t Table) With(more Table) Table {
	out := maps.Clone(t)
	maps.Copy(out, more)
	return out
}

// Scale multiplies every timeout by f (polls stay), for a machine slower than the one the table was
// written for. f must be positive.
func (t Table) Scale(f float64) (Table, error) {
	if f <= 0 {
		return nil, fmt.Errorf("interval scale %v: want a positive factor, e.g. 2 to double every timeout", f)
	}
	out := Table{}
	for name, iv := range t {
		iv.Timeout = time.Duration(float64(iv.Timeout) * f)
		out[name] = iv
	}
	return out, nil
}

// Load reads overrides of t from a YAML file of name: [timeout, poll] (poll optional), e.g.
//
//	wait-lab-ready: ["10m", "2s"]
//	wait-gone: ["5m"]
//
// A name t does not hold is refused, naming those it does: a misspelt override would otherwise change
// nothing without a word.
func (t Table) Load(path string) (Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read intervals: %w", err)
	}
	var raw map[string][]string
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("intervals file %s: %w (want name: [timeout, poll], e.g. wait-lab-ready: [\"10m\", \"2s\"])", path, err)
	}
	out := maps.Clone(t)
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		iv, ok := t[name]
		v := raw[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: no wait of that name; there are %s", name, strings.Join(t.Names(), ", ")))
			continue
		case len(v) == 0 || len(v) > 2:
			errs = append(errs, fmt.Errorf("%s: want [timeout] or [timeout, poll], e.g. [\"10m\", \"2s\"]", name))
			continue
		}
		for i, field := range []*time.Duration{&iv.Timeout, &iv.Poll}[:len(v)] {
			d, err := time.ParseDuration(v[i])
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 90s or 10m", name, v[i]))
				continue
			}
			*field = d
		}
		out[name] = iv
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("intervals file %s: %w", path, errors.Join(errs...))
	}
	return out, nil
}

const notChecked = "not checked yet"

// MaxLook bounds one look of a wait (one call of its condition) once the wait's own timeout no longer
// does: see Until.
const MaxLook = 30 * time.Second

// LookContext is the context one look of a wait gets: the caller's ctx, so that cancelling it stops
// the look, but not the wait's deadline, bounded by MaxLook instead. A look in flight when the timeout
// passes then ends by itself and says what it saw, where under the deadline its request would fail
// with "client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline",
// which would be the last thing the wait reports.
func LookContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, MaxLook)
}

// Until calls cond every poll of the interval name until it says nothing is unmet (""), returns an
// error, or the timeout passes. The error then names the wait, how long it waited and what cond last
// said was unmet. Each call gets LookContext(ctx).
func (t Table) Until(ctx context.Context, name string, cond func(context.Context) (unmet string, err error)) error {
	iv := t.Get(name)
	last := notChecked
	err := wait.PollUntilContextTimeout(ctx, iv.Poll, iv.Timeout, true, func(context.Context) (bool, error) {
		look, cancel := LookContext(ctx)
		defer cancel()
		unmet, err := cond(look)
		if err != nil {
			return false, err
		}
		if unmet != "" {
			last = unmet
		}
		return unmet == "", nil
	})
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w; last seen: %s", name, context.Cause(ctx), last)
	case wait.Interrupted(err):
		return fmt.Errorf("%s: still not done after %s: %s", name, iv.Timeout, last)
	}
	return err
}
