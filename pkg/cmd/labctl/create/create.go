// Package create is `labctl create`: check a request and push it to the GitOps repository.
package create

import (
	"fmt"

	"github.com/spf13/cobra"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/cmd/labctl/internal/shared"
	"github.com/labkit-dev/labkit/pkg/generator"
	"github.com/labkit-dev/labkit/pkg/gitops"
)

type flagpole struct {
	request shared.RequestFlags
	repo    shared.RepoFlags
	dryRun  bool
	yes     bool
	wait    shared.WaitFlags
}

// NewCommand returns `labctl create`.
func NewCommand(g *shared.Globals, streams shared.Streams) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Check a lab request against the cluster and commit it, with its Argo CD Application, to Git",
		Long: "Check a lab request against the cluster and commit it, with its Argo CD Application, to Git.\n\n" +
			"On a terminal, labctl asks for what the flags, the spec file and the profile leave out, offering the\n" +
			"GPU models free in the cluster now, shows the commit it would make, and asks before pushing it\n" +
			"(--yes never asks). From a pipe or in CI, what is missing is an error.",
		Example: `  printf '%s' "$PASSWORD" | labctl create ada-a100 --owner ada --gpu A100:1 --cpu 8 --memory 32Gi \
      --storage 100Gi --password-stdin --repo git@github.com:lab/gitops.git --branch team-a
  labctl create -f ada.yaml --token-secret ada-token --dry-run`,
		Args: shared.AtMostOneArg("NAME", "the lab to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ask *shared.Asker
			if tty := shared.Terminal(streams.In); tty != nil && !flags.yes {
				ask = shared.NewAsker(tty)
				flags.request.Ask = ask
				ask.StorageClasses = func() ([]string, string, error) { return g.StorageClasses(cmd.Context()) }
				if err := askRepo(g, ask, &flags.repo); err != nil {
					return err
				}
			}
			pub, pubErr := flags.repo.Publisher(g)
			if err := flags.wait.Check(pub); err != nil {
				return err
			}
			lab, err := flags.request.Lab(cmd.Context(), g, shared.FirstArg(args), streams.In, pubErr)
			if err != nil {
				return err
			}
			labs := []*labkitv1alpha1.JupyterLab{lab}
			if ask != nil && ask.Asked && !flags.dryRun { // a request given whole is committed as from a pipe
				if ok, err := confirm(cmd, ask, pub, labs); err != nil || !ok {
					return err
				}
			}
			res, diff, err := pub.Create(cmd.Context(), labs, flags.dryRun)
			if err != nil {
				return err
			}
			if res.NewBranch {
				fmt.Fprintln(streams.ErrOut, newBranchNote(pub, res.From, flags.dryRun))
			}
			if note := shared.ProposalNote(pub); note != "" {
				fmt.Fprintln(streams.ErrOut, note)
			}
			if flags.dryRun {
				fmt.Fprint(streams.Out, diff)
				return nil
			}
			app, err := pub.ApplicationOf(cmd.Context(), lab.Namespace, lab.Name)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "lab %s/%s committed as %s to branch %s; Argo CD application %s\n",
				lab.Namespace, lab.Name, res.Commit, pub.Repo.Branch(), app)
			if ask != nil {
				if err := offerProfile(g, ask); err != nil {
					return err
				}
			}
			if !flags.wait.Wait {
				return nil
			}
			return g.WaitReady(cmd.Context(), streams, flags.repo, flags.wait, pub.Target, lab.Namespace, lab.Name, res.Commit,
				fmt.Sprintf("the request stays committed: labctl status %s shows the lab, labctl delete %s withdraws it", lab.Name, lab.Name))
		},
	}
	flags.request.Bind(cmd.Flags())
	flags.request.Complete(cmd, g)
	flags.repo.Bind(cmd.Flags())
	flags.repo.BindLayout(cmd.Flags())
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "print the diff the commit would make and push nothing")
	cmd.Flags().BoolVarP(&flags.yes, "yes", "y", false, "never ask: on a terminal too, refuse what is missing and commit without confirming, as when stdin is not a terminal")
	flags.wait.Bind(cmd.Flags(), "until the lab answers, printing each step and then its URL")
	return cmd
}

// newBranchNote says that the push starts the branch, so that a mistyped --branch is seen, and for a
// new environment, that it needs its root Application.
func newBranchNote(pub *generator.Publisher, from string, dryRun bool) string {
	branch := pub.Repo.Branch()
	verb := "creating"
	if dryRun {
		verb = "the commit would create"
	}
	note := fmt.Sprintf("branch %s does not exist yet: %s it from %s", branch, verb, from)
	if from == "" {
		note = fmt.Sprintf("branch %s does not exist yet: %s it as the repository's first branch", branch, verb)
	}
	if pub.Target.Environment != "" {
		note += fmt.Sprintf("; it is a new environment, which Argo CD follows once its root Application exists: labctl root-app --branch %s --environment | kubectl apply -f -", branch)
	}
	return note
}

// askRepo asks for the repository when neither the flags nor the profile name one.
func askRepo(g *shared.Globals, ask *shared.Asker, repo *shared.RepoFlags) error {
	profile, err := g.LoadProfile()
	if err != nil {
		return err
	}
	if remote, _, _, _ := repo.Target(profile); remote != "" {
		return nil
	}
	remote, err := ask.Ask("Git repository to commit the lab to (a URL, or a path on this machine)", "", func(s string) error {
		if s == "" {
			return fmt.Errorf("labctl needs the repository Argo CD reads the labs from")
		}
		return generator.ValidateField("repo", s)
	})
	if err != nil {
		return err
	}
	if remote, err = gitops.AbsRemote(remote); err != nil {
		return err
	}
	repo.Repo, ask.Answers.Repo = remote, remote
	return nil
}

// confirm shows the commit create would make and asks whether to make it.
func confirm(cmd *cobra.Command, ask *shared.Asker, pub *generator.Publisher, labs []*labkitv1alpha1.JupyterLab) (bool, error) {
	res, diff, err := pub.Create(cmd.Context(), labs, true)
	if err != nil {
		return false, err
	}
	ask.Say("\nThe commit, to branch %s of %s:\n%s", pub.Repo.Branch(), pub.Repo.Remote(), diff)
	question := "Commit and push it"
	if res.NewBranch {
		question = "Branch " + pub.Repo.Branch() + " does not exist yet: create it and push the commit"
	}
	ok, err := ask.Confirm(question + "?")
	if err == nil && !ok {
		ask.Say("Nothing committed.")
	}
	return ok, err
}

// offerProfile offers to save what the person typed as the defaults of their next requests.
func offerProfile(g *shared.Globals, ask *shared.Asker) error {
	if ask.Answers == (generator.Profile{}) {
		return nil
	}
	ok, err := ask.Confirm("Save your answers (not the password) as your defaults in " + g.Profile + "?")
	if err != nil || !ok {
		return err
	}
	saved, err := g.LoadProfile()
	if err != nil {
		return err
	}
	saved.Set(ask.Answers)
	if err := saved.Validate(); err != nil {
		return err
	}
	if err := saved.Save(g.Profile); err != nil {
		return err
	}
	ask.Say("Saved to %s: labctl profile show prints it.", g.Profile)
	return nil
}
