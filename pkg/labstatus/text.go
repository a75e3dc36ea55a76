package labstatus

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes one lab's status for people: a line per source, the URL, the conditions, and what
// could not be seen.
func WriteText(w io.Writer, s *Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "lab %s/%s%s\n", s.Namespace, s.Name, describeRequest(s))
	if g := s.Git; g != nil {
		fmt.Fprintf(tw, "  git\t%s\n", describeGit(g))
	}
	if a := s.ArgoCD; a != nil {
		fmt.Fprintf(tw, "  argo cd\t%s\n", describeArgo(a, s.Git))
	}
	if l := s.Lab; l != nil {
		fmt.Fprintf(tw, "  cluster\t%s\n", describeLab(l))
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
				phase, node, url = cmp.Or(l.Phase, "Pending"), cmp.Or(l.Node, "-"), cmp.Or(l.URL, "-")
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

func describeGit(g *Git) string {
	where := fmt.Sprintf("branch %s of %s", g.Branch, g.Repo)
	switch {
	case !g.OnBranch:
		return where + ": no such lab on the branch"
	case g.LastChange != nil:
		c := g.LastChange
		return fmt.Sprintf("%s: last changed by %s %q (%s, %s)", where, short(c.ID), c.Subject, c.Author, when(c.Date))
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

func describeLab(l *Lab) string {
	if !l.Found {
		return "no such lab in the cluster (yet)"
	}
	s := cmp.Or(l.Phase, "Pending")
	if l.Node != "" {
		s += " on node " + l.Node
	}
	if l.GPUs != "" {
		s += ", " + l.GPUs
	}
	if !l.Current {
		s += " (the controller has not caught up with the lab's latest change yet)"
	}
	return s
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
