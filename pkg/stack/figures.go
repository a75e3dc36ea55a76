package stack

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Spread prints, under title, the min, median and max of each named figure (in took) in seconds, a
// row per name in the order given; from heads the names' column, e.g. "FROM THE SAVE TO". A name with
// no figure prints dashes.
func Spread(w io.Writer, title, from string, names []string, took map[string][]time.Duration) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tMIN\tMEDIAN\tMAX\n", from)
	for _, name := range names {
		d := slices.Clone(took[name])
		if len(d) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\n", name)
			continue
		}
		slices.Sort(d)
		fmt.Fprintf(tw, "%s\t%.1f s\t%.1f s\t%.1f s\n", name, d[0].Seconds(), Median(d).Seconds(), d[len(d)-1].Seconds())
	}
	tw.Flush()
}

// Median is the median of sorted figures, the mean of the middle two for an even number; 0 for none.
func Median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
