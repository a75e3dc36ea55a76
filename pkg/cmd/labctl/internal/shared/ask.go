package shared

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/labkit-dev/labkit/pkg/catalog"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// answerTries is how many times a question is asked again after an answer labctl refuses.
const answerTries = 3

// Terminal is in when it is a terminal a person types at, else nil.
func Terminal(in io.Reader) *os.File {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// Asker asks a person at a terminal for what a request leaves out, offering what the cluster has
// now. It writes its questions to the terminal itself, so stdout stays what the command prints.
type Asker struct {
	tty *os.File
	in  *bufio.Reader
	// Answers are the lab defaults the person typed (never a password), to offer to save as the profile.
	Answers generator.Profile
	// Asked says whether anything was asked: a request whole without questions is not confirmed either.
	Asked bool
	// StorageClasses returns the cluster's storage classes and the one a volume gets when it names
	// none; with two or more, Fill asks which. Nil, or an error: no question. Called only when the
	// request names no storage class.
	StorageClasses func() (classes []string, def string, err error)
}

// NewAsker asks at tty.
func NewAsker(tty *os.File) *Asker { return &Asker{tty: tty, in: bufio.NewReader(tty)} }

// Say writes a line to the terminal.
func (a *Asker) Say(format string, args ...any) { fmt.Fprintf(a.tty, format+"\n", args...) }

// Ask asks question until the answer passes check (nil: any answer) and returns it; Enter alone is def.
func (a *Asker) Ask(question, def string, check func(string) error) (string, error) {
	if def != "" {
		question += " [" + def + "]"
	}
	a.Asked = true
	for try := 1; ; try++ {
		fmt.Fprint(a.tty, question+": ")
		line, err := a.in.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("no answer to %q: %w", question, err)
		}
		answer := strings.TrimSpace(line)
		if answer == "" {
			answer = def
		}
		if check == nil {
			return answer, nil
		}
		err = check(answer)
		if err == nil {
			return answer, nil
		}
		if try == answerTries {
			return "", err
		}
		a.Say("  %v", err)
	}
}

// Confirm asks a yes/no question; Enter alone is no.
func (a *Asker) Confirm(question string) (bool, error) {
	answer, err := a.Ask(question+" (y/N)", "", func(s string) error {
		switch strings.ToLower(s) {
		case "", "y", "yes", "n", "no":
			return nil
		}
		return fmt.Errorf("answer y or n")
	})
	return strings.HasPrefix(strings.ToLower(answer), "y"), err
}

// Fill asks for each part of req that is empty before the defaults (d) apply, offering the default
// and, with a catalog, the GPU models free now and how large a lab their nodes can take.
func (a *Asker) Fill(req *generator.Request, cat *catalog.Catalog, d generator.Request) error {
	field := func(dst *string, saved *string, flag, question, def string) error {
		if *dst != "" {
			return nil
		}
		v, err := a.Ask(question, def, func(s string) error { return generator.ValidateField(flag, s) })
		if err != nil {
			return err
		}
		*dst = v
		if saved != nil {
			*saved = v
		}
		return nil
	}
	if err := field(&req.Name, nil, "name", "Name of the lab (lower-case letters, digits and '-', e.g. ada-a100)", ""); err != nil {
		return err
	}
	if err := field(&req.Owner, &a.Answers.Owner, "owner", "Your name, as lower-case letters, digits and '-' (e.g. ada)", ""); err != nil {
		return err
	}
	var largest catalog.Request
	var node string
	if req.GPU == "" {
		gpu, err := a.askGPU(cat)
		if err != nil {
			return err
		}
		req.GPU, a.Answers.GPU = gpu, gpu
	}
	if cat != nil {
		product, count, err := generator.ParseGPU(req.GPU)
		if err == nil && count > 0 {
			product, err = cat.MatchProduct(product)
		}
		if err == nil { // else Build says what is wrong with the GPU, and no node's room is shown
			if l, n, ok := cat.Largest(product); ok {
				largest, node = l, n
			}
		}
	}
	cpuQ, memQ := "CPU cores, e.g. 8 or 500m", "Memory, e.g. 32Gi"
	if node != "" {
		cpuQ += fmt.Sprintf(" (node %s has %s free)", node, largest.CPU.String())
		memQ += fmt.Sprintf(" (node %s has %s free)", node, largest.Memory.String())
	}
	if err := field(&req.CPU, &a.Answers.CPU, "cpu", cpuQ, d.CPU); err != nil {
		return err
	}
	if err := field(&req.Memory, &a.Answers.Memory, "memory", memQ, d.Memory); err != nil {
		return err
	}
	if err := field(&req.Storage, &a.Answers.Storage, "storage", "Storage for your files, kept when the lab stops, e.g. 100Gi", d.Storage); err != nil {
		return err
	}
	return a.askStorageClass(req)
}

// askStorageClass asks which storage class the lab's volume is of, when the cluster has a choice.
func (a *Asker) askStorageClass(req *generator.Request) error {
	if req.StorageClass != "" || a.StorageClasses == nil {
		return nil
	}
	names, def, err := a.StorageClasses()
	if err != nil || len(names) < 2 {
		return nil
	}
	classes := strings.Join(names, ", ")
	class, err := a.Ask("Storage class, the kind of disk your files are kept on ("+classes+")", def, func(s string) error {
		if !slices.Contains(names, s) {
			return fmt.Errorf("choose one of %s", classes)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if class != def { // the default is what a lab gets without naming one
		req.StorageClass, a.Answers.StorageClass = class, class
	}
	return nil
}

// askGPU offers the catalog's GPU models by number, or takes MODEL:COUNT as typed; without a catalog
// it asks for MODEL:COUNT.
func (a *Asker) askGPU(cat *catalog.Catalog) (string, error) {
	check := func(s string) error { return generator.ValidateField("gpu", s) }
	var offers []catalog.Offer
	if cat != nil {
		offers = cat.Offers()
	}
	if len(offers) == 0 {
		return a.Ask("GPUs as MODEL:COUNT, e.g. A100:1, or none", "none", check)
	}
	a.Say("GPUs in the cluster now:")
	for i, o := range offers {
		line := fmt.Sprintf("  %d) %s: %d of %d free", i+1, o.Product, o.Free, o.Total)
		if l, node, ok := cat.Largest(o.Product); ok {
			line += fmt.Sprintf("; the most one lab can have: %s (node %s)", l, node)
		}
		a.Say("%s", line)
	}
	none := len(offers) + 1
	a.Say("  %d) none: a lab without GPUs", none)
	pick, err := a.Ask("GPU (a number, or MODEL:COUNT)", strconv.Itoa(none), func(s string) error {
		if n, err := strconv.Atoi(s); err == nil {
			if n < 1 || n > none {
				return fmt.Errorf("choose a number from 1 to %d", none)
			}
			return nil
		}
		return check(s)
	})
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(pick)
	switch {
	case err != nil:
		return pick, nil // MODEL:COUNT as typed; Build matches it against the catalog
	case n == none:
		return "none", nil
	}
	o := offers[n-1]
	if o.MostFree <= 1 {
		return o.Product + ":1", nil
	}
	count, err := a.Ask(fmt.Sprintf("How many %s (1 to %d on one node)", o.Product, o.MostFree), "1", func(s string) error {
		if c, err := strconv.Atoi(s); err != nil || c < 1 || int64(c) > o.MostFree {
			return fmt.Errorf("give a whole number from 1 to %d", o.MostFree)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return o.Product + ":" + count, nil
}
