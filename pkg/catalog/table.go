package catalog

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the catalog for people: one row per node by name, free/allocatable amounts and notes
// (cordoned, not ready, taints), then one row per GPU product.
func WriteTable(w io.Writer, c *Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGPU\tGPUS(FREE/TOTAL)\tGPU-MEM\tCPU(FREE/ALLOC)\tMEMORY(FREE/ALLOC)\tNOTES")
	nodes := make([]*Node, len(c.Nodes))
	for i := range c.Nodes {
		nodes[i] = &c.Nodes[i]
	}
	slices.SortFunc(nodes, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range nodes {
		product, gpus, gpuMem := "-", "-", "-"
		if n.GPU.Product != "" || n.Allocatable.GPUs > 0 {
			product = cmp.Or(n.GPU.Product, "?")
			gpus = fmt.Sprintf("%d/%d", n.Free.GPUs, n.Allocatable.GPUs)
		}
		if n.GPU.MemoryMiB > 0 {
			gpuMem = formatBytes(n.GPU.MemoryMiB << 20)
		}
		free, alloc := n.Free.amount(), n.Allocatable.amount()
		var notes []string
		if n.Cordoned {
			notes = append(notes, "cordoned")
		}
		if n.NotReady {
			notes = append(notes, "not ready")
		}
		for i := range n.Taints {
			notes = append(notes, "tainted "+n.Taints[i].ToString())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%s/%s\t%s\n", n.Name, product, gpus, gpuMem,
			formatCPU(free.milliCPU), formatCPU(alloc.milliCPU), formatBytes(free.memory), formatBytes(alloc.memory),
			cmp.Or(strings.Join(notes, ", "), "-"))
	}
	if ix := c.index(); len(ix.products) > 0 {
		fmt.Fprintln(tw, "\nGPU\tNODES\tGPUS(FREE/TOTAL)\tMOST FREE ON ONE NODE")
		for _, p := range ix.products {
			fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d\n", p.name, len(p.slots), p.free, p.total, p.mostFree)
		}
	}
	return tw.Flush()
}

// formatCPU writes milli-CPU as cores: 16, 3.5, 0.25.
func formatCPU(milli int64) string {
	return strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64)
}

// formatBytes writes bytes in the largest binary unit they reach, rounded down to a tenth so that
// it never shows more than there is: 32Gi, 31.9Gi, 512Mi, 100.
func formatBytes(b int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if b >= u.size {
			return strconv.FormatFloat(math.Floor(float64(b)*10/float64(u.size))/10, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}
