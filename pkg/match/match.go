package match

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Mismatch is one place where the actual value does not contain the expected one.
type Mismatch struct {
	// Path locates the value, e.g. spec.template.spec.containers[0].image.
	Path string
	// Expected and Actual are the values found there; Actual is nil when the field is missing.
	Expected, Actual any
}

func (m Mismatch) String() string {
	if m.Actual == nil {
		return fmt.Sprintf("%s: expected %s, but it is missing", m.Path, show(m.Expected))
	}
	return fmt.Sprintf("%s: expected %s, got %s", m.Path, show(m.Expected), show(m.Actual))
}

// absent is the Expected of a Mismatch where the key should not be there at all.
type absent struct{}

func (absent) String() string { return "no value" }

func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%v", v)
}

// Option changes how lists are matched.
type Option interface{ apply(*matcher) }

type optionFunc func(*matcher)

func (f optionFunc) apply(m *matcher) { f(m) }

// Ordered matches lists element by element: the lists must have the same length and each expected
// element must be contained in the actual element at the same index. Without it, lists match without
// regard to order: each expected element must be contained in a distinct actual element, and the actual
// list may hold more.
func Ordered() Option { return optionFunc(func(m *matcher) { m.ordered = true }) }

type matcher struct{ ordered bool }

// Contains reports the places where actual does not contain expected, as decoded from JSON or YAML (maps
// of string to any, slices of any, and scalars). Maps match as subsets: every key of expected must be in
// actual with a matching value; actual may have more keys. A key whose expected value is null must be
// absent from actual, as in a JSON merge patch. Scalars must be equal, with numbers compared
// by value whatever their Go type. An empty result means actual contains expected.
func Contains(expected, actual any, opts ...Option) []Mismatch {
	m := &matcher{}
	for _, o := range opts {
		o.apply(m)
	}
	var out []Mismatch
	m.walk("", expected, actual, &out)
	return out
}

func (m *matcher) walk(path string, expected, actual any, out *[]Mismatch) {
	switch e := expected.(type) {
	case map[string]any:
		a, ok := actual.(map[string]any)
		if !ok {
			*out = append(*out, Mismatch{Path: orRoot(path), Expected: e, Actual: actual})
			return
		}
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := joinKey(path, k)
			av, found := a[k]
			if e[k] == nil { // null: the key must be absent, as a JSON merge patch's null removes it
				if found {
					*out = append(*out, Mismatch{Path: p, Expected: absent{}, Actual: av})
				}
				continue
			}
			if !found {
				*out = append(*out, Mismatch{Path: p, Expected: e[k]})
				continue
			}
			m.walk(p, e[k], av, out)
		}
	case []any:
		a, ok := actual.([]any)
		if !ok {
			*out = append(*out, Mismatch{Path: orRoot(path), Expected: e, Actual: actual})
			return
		}
		if m.ordered {
			if len(e) != len(a) {
				*out = append(*out, Mismatch{Path: orRoot(path), Expected: e, Actual: a})
				return
			}
			for i := range e {
				m.walk(fmt.Sprintf("%s[%d]", path, i), e[i], a[i], out)
			}
			return
		}
		m.unordered(path, e, a, out)
	default:
		if !scalarEqual(expected, actual) {
			*out = append(*out, Mismatch{Path: orRoot(path), Expected: expected, Actual: actual})
		}
	}
}

// unordered pairs each expected element with a distinct actual element that contains it, by
// augmenting paths (bipartite matching), so that a greedy choice can never hide a valid pairing.
func (m *matcher) unordered(path string, e, a []any, out *[]Mismatch) {
	fits := make([][]int, len(e))
	for i := range e {
		for j := range a {
			var probe []Mismatch
			m.walk("", e[i], a[j], &probe)
			if len(probe) == 0 {
				fits[i] = append(fits[i], j)
			}
		}
	}
	owner := make([]int, len(a))
	for j := range owner {
		owner[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range fits[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || try(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	for i := range e {
		if !try(i, make([]bool, len(a))) {
			*out = append(*out, Mismatch{Path: fmt.Sprintf("%s[?]", path), Expected: e[i], Actual: closest(m, e[i], a)})
		}
	}
}

// closest is the actual element with the fewest mismatches against expected, to show in a report.
func closest(m *matcher, expected any, actual []any) any {
	var best any
	bestN := -1
	for _, a := range actual {
		var probe []Mismatch
		m.walk("", expected, a, &probe)
		if bestN < 0 || len(probe) < bestN {
			best, bestN = a, len(probe)
		}
	}
	return best
}

func scalarEqual(e, a any) bool {
	if ef, ok := number(e); ok {
		af, ok := number(a)
		return ok && ef == af
	}
	return reflect.DeepEqual(e, a)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func joinKey(path, key string) string {
	if strings.ContainsAny(key, ".[]/") {
		key = "[" + key + "]"
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

// Report renders mismatches one per line, for test failures and logs.
func Report(ms []Mismatch) string {
	lines := make([]string, len(ms))
	for i, m := range ms {
		lines[i] = "  " + m.String()
	}
	return strings.Join(lines, "\n")
}
