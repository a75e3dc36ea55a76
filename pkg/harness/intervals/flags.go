package intervals

import (
	"flag"
	"fmt"
)

// Flags are the two flags that stretch a Table for a slower machine than the one it was written for:
// -interval-scale multiplies every timeout, and -intervals names a file of overrides (Load). Every
// program that waits from a Table takes them, so a slow CI machine stretches them all the same way.
type Flags struct {
	scale float64
	file  string
}

// AddFlags defines -interval-scale and -intervals on fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	fs.Float64Var(&f.scale, "interval-scale", 1, "multiply the timeout of every named wait by this, e.g. 2 on a slow machine")
	fs.StringVar(&f.file, "intervals", "", `YAML file of name: [timeout, poll] overriding named waits, e.g. wait-lab-ready: ["10m", "2s"]`)
	return f
}

// Apply is t with the overrides of -intervals, then every timeout multiplied by -interval-scale.
func (f *Flags) Apply(t Table) (Table, error) {
	if f.file != "" {
		var err error
		if t, err = t.Load(f.file); err != nil {
			return nil, err
		}
	}
	t, err := t.Scale(f.scale)
	if err != nil {
		return nil, fmt.Errorf("-interval-scale: %w", err)
	}
	return t, nil
}
