package browser_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/labkit-dev/labkit/pkg/harness/browser"
)

// An e2e test proves that a person can use a lab: the browser maps the lab's host name to the
// cluster's ingress on this machine, logs in, runs a cell, and is turned away with a wrong password.
// It needs Chromium and a lab at that address, so it is not run here.
func Example() {
	ctx := context.Background()
	artifacts := filepath.Join("artifacts", "TestALabInTheBrowser")
	b, err := browser.Start(ctx,
		browser.WithHostResolverRules("MAP *.labs.test 127.0.0.1"),
		browser.WithScreenshots(artifacts), // 01-login-page.png, 02-logged-in.png, ...
	)
	if errors.Is(err, browser.ErrNoBrowser) {
		log.Fatal(err) // says to apt-get install chromium or to set LABKIT_CHROMIUM
	}
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	const labURL = "http://alice.labs.test:8080/"
	if _, err := b.OpenJupyter(ctx, labURL, "not the password"); !errors.Is(err, browser.ErrLoginRefused) {
		log.Fatalf("a wrong password: %v, want it refused", err)
	}
	lab, err := b.OpenJupyter(ctx, labURL, "the password")
	if err != nil {
		log.Fatal(err)
	}
	out, err := lab.RunInNewNotebook(ctx, "print(6*7)")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(lab.UI(), out)
	_ = os.RemoveAll(artifacts) // it passed: the screenshots are not needed
}
