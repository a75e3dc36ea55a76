package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

var (
	// ErrUnknownGPU means no node offers the GPU type asked for.
	ErrUnknownGPU = errors.New("gpu type not offered")
	// ErrAmbiguousGPU means a GPU type asked for matches several products.
	ErrAmbiguousGPU = errors.New("gpu type ambiguous")
)

// explained is an error a person reads, which callers tell apart with errors.Is(err, sentinel).
type explained struct {
	sentinel error
	msg      string
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.sentinel }

// MatchProduct returns the GPU product (as in the label nvidia.com/gpu.product) that query names.
// An exact name wins, then one equal but for case; otherwise the query's words (split at - _ . and space)
// must appear in a row among the product's, a leading "nvidia" or "tesla" aside, so "a100-80gb" finds
// NVIDIA-A100-80GB-PCIe and "t4" finds Tesla-T4, but "A10" does not find NVIDIA-A100-SXM4-40GB.
// The error is ErrAmbiguousGPU or ErrUnknownGPU, with the candidates or what is offered.
func (c *Catalog) MatchProduct(query string) (string, error) {
	ix := c.index()
	q := tokens(query)
	rank := func(p *product) int {
		switch {
		case p.name == query:
			return 3
		case strings.EqualFold(p.name, query):
			return 2
		case containsRun(p.tokens, q):
			return 1
		}
		return 0
	}
	best, n := 0, 0
	var found *product
	for i := range ix.products {
		switch r := rank(&ix.products[i]); {
		case r > best:
			best, n, found = r, 1, &ix.products[i]
		case r == best && r > 0:
			n++
		}
	}
	switch n {
	case 0:
		return "", ix.unknown(query)
	case 1:
		return found.name, nil
	}
	var names []string
	for i := range ix.products {
		if p := &ix.products[i]; rank(p) == best {
			names = append(names, fmt.Sprintf("%s (%d free)", p.name, p.free))
		}
	}
	return "", &explained{ErrAmbiguousGPU,
		fmt.Sprintf("gpu type %q is ambiguous: %s; name one of them", query, strings.Join(names, ", "))}
}

// product returns the product named exactly name.
func (ix *index) product(name string) (*product, error) {
	i, found := slices.BinarySearchFunc(ix.products, name, compareProduct)
	if !found {
		return nil, ix.unknown(name)
	}
	return &ix.products[i], nil
}

func (ix *index) unknown(query string) error {
	return &explained{ErrUnknownGPU, fmt.Sprintf("gpu type %q is not offered by any node; %s", query, ix.offered())}
}

// offered lists every product with its free GPUs, e.g. "offered: Tesla-T4 (node gpu-t4-1: 2 of 2 free)".
func (ix *index) offered() string {
	if len(ix.products) == 0 {
		return "no node offers GPUs"
	}
	parts := make([]string, len(ix.products))
	for i := range ix.products {
		p := &ix.products[i]
		if len(p.slots) == 1 {
			parts[i] = fmt.Sprintf("%s (node %s: %d of %d free)", p.name, p.slots[0].node.Name, p.free, p.total)
		} else {
			parts[i] = fmt.Sprintf("%s (%d nodes, %d of %d free; most on one node: %d)", p.name, len(p.slots), p.free, p.total, p.mostFree)
		}
	}
	return "offered: " + strings.Join(parts, ", ")
}

// tokens splits a product name into lower-case words, without a leading vendor word.
func tokens(s string) []string {
	t := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || r == ' '
	})
	for len(t) > 0 && (t[0] == "nvidia" || t[0] == "tesla") {
		t = t[1:]
	}
	return t
}

// containsRun reports whether run appears in words as consecutive words.
func containsRun(words, run []string) bool {
	if len(run) == 0 {
		return false
	}
	for i := 0; i+len(run) <= len(words); i++ {
		if slices.Equal(words[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
