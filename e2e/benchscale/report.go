package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// report is the table bench-scale prints.
type report struct {
	title string
	who   string // the benchmark, before each row it prints as it goes; bench-scale when empty
	rows  [][2]string
}

func (r *report) add(what, format string, args ...any) {
	r.rows = append(r.rows, [2]string{what, fmt.Sprintf(format, args...)})
	fmt.Printf("%s: %s: %s\n", cmp.Or(r.who, "bench-scale"), what, r.rows[len(r.rows)-1][1])
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n%s\n", r.title, strings.Repeat("=", len(r.title)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tVALUE")
	for _, row := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	tw.Flush()
}
