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

// MatchProduct returns the GPU product (as in the label nvidia.com/gpu.product) that query names, read the way
// people write model names. An exact name wins, then one equal but for case; otherwise a product matches when
// each word of the query is one of the product's words, where:
//   - words are split at - _ . and space, and case does not matter;
//   - the vendor words nvidia, tesla and geforce are ignored: "NVIDIA T4", "Tesla T4" and "t4" are the same;
//   - a memory size is the same word with or without its unit: 80GB, 80G, "80 GB" and 80;
//   - the order of the words does not matter: "80GB A100" is "A100 80GB";
//   - the product's other words may be left out, such as the form factor (SXM4, PCIe, HBM3, NVL) or the
//     memory, but a word the query has must be there: "A100-PCIe" finds NVIDIA-A100-80GB-PCIe only;
//   - a query word matches a whole word, never a part: "A10" does not find NVIDIA-A100-SXM4-40GB, nor "T4"
//     NVIDIA-T400, nor "A100-8" an 80 GB product.
//
// So "A100-80GB", "a100_80g" and "A100 80" match NVIDIA-A100-SXM4-80GB and NVIDIA-A100-80GB-PCIe, not
// NVIDIA-A100-SXM4-40GB, and "A100" matches all three. Several products at the best rank are ErrAmbiguousGPU,
// listing each with its free GPUs; none is ErrUnknownGPU, listing what is offered.
func (c *Catalog) MatchProduct(query string) (string, error) {
	ix := c.index()
	q := tokens(query)
	rank := func(p *product) int {
		switch {
		case p.name == query:
			return 3
		case strings.EqualFold(p.name, query):
			return 2
		case hasWords(p.tokens, q):
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

// tokens splits a GPU name into lower-case words as MatchProduct compares them: without vendor words, and a
// memory size as its number of GB ("80GB", "80g" and "80 GB" are "80").
func tokens(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || r == ' '
	})
	t := words[:0]
	for _, w := range words {
		switch {
		case w == "nvidia" || w == "tesla" || w == "geforce":
		case (w == "gb" || w == "g") && len(t) > 0 && isNumber(t[len(t)-1]): // the unit of "80 GB"
		case gigabytes(w) != "":
			t = append(t, gigabytes(w))
		default:
			t = append(t, w)
		}
	}
	return t
}

// gigabytes returns the number of a memory size such as "80gb" or "80g", or "" if w is none.
func gigabytes(w string) string {
	n, ok := strings.CutSuffix(w, "gb")
	if !ok {
		n, ok = strings.CutSuffix(w, "g")
	}
	if ok && isNumber(n) {
		return n
	}
	return ""
}

func isNumber(w string) bool {
	return w != "" && strings.Trim(w, "0123456789") == ""
}

// hasWords reports whether every word of query is among words; an empty query names nothing.
func hasWords(words, query []string) bool {
	for _, w := range query {
		if !slices.Contains(words, w) {
			return false
		}
	}
	return len(query) > 0
}

// Offer is one GPU model the nodes offer, and how many of its GPUs there are.
type Offer struct {
	Product     string
	Free, Total int64 // over all its nodes
	MostFree    int64 // on one node: the most one lab can get
}

// Offers are the GPU models of the catalog, sorted by name.
func (c *Catalog) Offers() []Offer {
	ix := c.index()
	out := make([]Offer, len(ix.products))
	for i := range ix.products {
		p := &ix.products[i]
		out[i] = Offer{Product: p.name, Free: p.free, Total: p.total, MostFree: p.mostFree}
	}
	return out
}
