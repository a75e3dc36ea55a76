package labstatus

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/generator"
)

// TextOption configures WriteText.
type TextOption interface{ applyText(*textOptions) }

type textOptions struct{ now time.Time }

type textOptionFunc func(*textOptions)

func (f textOptionFunc) applyText(o *textOptions) { f(o) }

// TextAt writes times relative to now ("in 13 days"); the default is the time WriteText is called.
func TextAt(now time.Time) TextOption {
	return textOptionFunc(func(o *textOptions) { o.now = now })
}

// WriteText writes one lab's status for people: a line per source, when the lab expires and how long it
// may be idle, the URL, the conditions, and what could not be seen.
func WriteText(w io.Writer, s *Status, opts ...TextOption) error {
	o := &textOptions{now: time.Now()}
	for _, opt := range opts {
		opt.applyText(o)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "lab %s/%s%s\n", s.Namespace, s.Name, describeRequest(s))
	if g := s.Git; g != nil {
		fmt.Fprintf(tw, "  git\t%s\n", describeGit(g, s))
		if r := g.Request; r != nil {
			if e := r.ExpiresAt; e != nil {
				if e.After(o.now) {
					fmt.Fprintf(tw, "  expires\t%s (in %s)\n", when(*e), span(e.Sub(o.now)))
				} else {
					fmt.Fprintf(tw, "  expired\t%s (%s ago): %s gives it more time\n", when(*e), span(o.now.Sub(*e)),
						generator.CommandLine("extend", s.Namespace, s.Name, "--for 7d"))
				}
			}
			switch r.IdleTimeout {
			case "":
			case "0s":
				fmt.Fprintf(tw, "  idle timeout\tnone: the lab is never stopped for being idle\n")
			default:
				fmt.Fprintf(tw, "  idle timeout\t%s: the lab is stopped after that long without activity\n", r.IdleTimeout)
			}
			if len(r.Volumes) > 0 {
				fmt.Fprintf(tw, "  volumes\t%s\n", strings.Join(r.Volumes, ", "))
			}
		}
	}
	if a := s.ArgoCD; a != nil {
		fmt.Fprintf(tw, "  argo cd\t%s\n", describeArgo(a, s.Git))
	}
	if l := s.Lab; l != nil {
		fmt.Fprintf(tw, "  cluster\t%s\n", describeLab(l, s))
		if l.URL != "" {
			url := l.URL
			if l.InternalURL != "" && l.InternalURL != l.URL {
				url += "   (in the cluster: " + l.InternalURL + ")"
			}
			fmt.Fprintf(tw, "  url\t%s\n", url)
		}
		for i, c := range l.Conditions {
			label := ""
			if i == 0 {
				label = "conditions"
			}
			fmt.Fprintf(tw, "  %s\t%s=%s %s since %s: %s\n", label, c.Type, c.Status, c.Reason, when(c.Since), c.Message)
		}
	}
	for i, u := range s.Unseen {
		label := ""
		if i == 0 {
			label = "not seen"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", label, u)
	}
	return tw.Flush()
}

// WriteTable writes many labs' status, a line each.
func WriteTable(w io.Writer, list []*Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tOWNER\tGPU\tCOMMIT\tARGO CD\tPHASE\tNODE\tURL")
	unseen := map[string]bool{}
	var notes []string
	for _, s := range list {
		owner, gpu, commit := "-", "-", "-"
		if g := s.Git; g != nil && g.Request != nil {
			owner, gpu = g.Request.Owner, cmp.Or(g.Request.GPU, "-")
			if g.LastChange != nil {
				commit = short(g.LastChange.ID)
			}
		}
		argo := "-"
		if a := s.ArgoCD; a != nil {
			argo = "absent"
			if a.Found {
				argo = cmp.Or(a.Sync, "?") + "/" + cmp.Or(a.Health, "?")
			}
		}
		phase, node, url := "-", "-", "-"
		if l := s.Lab; l != nil {
			phase = "absent"
			if l.Found {
				phase, node, url = l.PhaseText(), cmp.Or(l.Node, "-"), cmp.Or(l.URL, "-")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, owner, gpu, commit, argo, phase, node, url)
		for _, u := range s.Unseen {
			if !unseen[u] {
				unseen[u] = true
				notes = append(notes, u)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintf(w, "not seen: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

func describeRequest(s *Status) string {
	if s.Git == nil || s.Git.Request == nil {
		return ""
	}
	r := s.Git.Request
	gpu := cmp.Or(r.GPU, "no GPU")
	return fmt.Sprintf(" (owner %s): %s, %s CPU, %s memory, %s storage", r.Owner, gpu, r.CPU, r.Memory, r.Storage)
}

func describeGit(g *Git, s *Status) string {
	where := fmt.Sprintf("branch %s of %s", g.Branch, g.Repo)
	switch {
	case !g.OnBranch:
		return where + ": no such lab on the branch"
	case g.LastChange != nil:
		c := g.LastChange
		where = fmt.Sprintf("%s: last changed by %s %q (%s, %s)", where, short(c.ID), c.Subject, c.Author, when(c.Date))
	}
	if g.Request != nil && g.Request.Stopped {
		where += "; stopped there (" + generator.CommandLine("start", s.Namespace, s.Name, "") + " starts it)"
	}
	return where
}

func describeArgo(a *ArgoCD, g *Git) string {
	if !a.Found {
		return "application " + a.Application + ": not created (yet)"
	}
	s := fmt.Sprintf("application %s: %s at %s, %s", a.Application, cmp.Or(a.Sync, "not compared yet"), short(a.Revision), cmp.Or(a.Health, "health unknown"))
	if g != nil && g.Tip != "" && a.Revision != "" && a.Revision != g.Tip {
		s += "; the branch is at " + short(g.Tip)
	}
	if a.Message != "" {
		s += ": " + a.Message
	}
	return s
}

func describeLab(l *Lab, st *Status) string {
	if !l.Found {
		return "no such lab in the cluster (yet)"
	}
	s := cmp.Or(l.Phase, "Pending")
	if p := l.Stopped; p != nil {
		start := generator.CommandLine("start", st.Namespace, st.Name, "") + " starts it"
		switch p.Reason {
		case labkitv1alpha1.ReasonIdle:
			s += fmt.Sprintf(" (Idle since %s, %s)", when(p.Since), start)
		case labkitv1alpha1.ReasonExpired:
			s += fmt.Sprintf(" (Expired since %s, %s gives it more time and starts it)", when(p.Since), generator.CommandLine("extend", st.Namespace, st.Name, "--for 7d"))
		default:
			s += fmt.Sprintf(" (by labctl stop since %s, %s)", when(p.Since), start)
		}
	}
	if l.Node != "" {
		s += " on node " + l.Node
	}
	if l.GPUs != "" && l.Stopped == nil {
		s += ", " + l.GPUs
	}
	if t := l.IdleSince; t != nil && l.Stopped == nil {
		s += "; idle since " + when(*t)
		if g := st.Git; g != nil && g.Request != nil && g.Request.IdleTimeout != "" && g.Request.IdleTimeout != "0s" {
			s += " (stopped after " + g.Request.IdleTimeout + " of that)"
		}
	}
	if !l.Current {
		s += " (the controller has not caught up with the lab's latest change yet)"
	}
	return s
}

// PhaseText is the lab's phase in a word or two: "Ready", "Stopped (Idle)".
func (l *Lab) PhaseText() string {
	if l.Stopped != nil {
		return cmp.Or(l.Phase, string(labkitv1alpha1.PhaseStopped)) + " (" + l.Stopped.Reason + ")"
	}
	return cmp.Or(l.Phase, "Pending")
}

// span is a duration as people say it: "13 days", "5 hours", "20 minutes", "under 2 minutes".
func span(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return "under 2 minutes"
}

// short is a commit's abbreviated id.
func short(id string) string {
	if len(id) > 7 {
		return id[:7]
	}
	return cmp.Or(id, "?")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// oneLine squeezes a message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
