// Package browser drives a real headless Chromium through a Jupyter server's web UI, to show that a
// person could use a lab: open its URL, log in with the password, open a new notebook, run a cell and
// read what it printed, and be turned away with a wrong password.
//
// Start a browser with Start (Find says where Chromium is, or why there is none), log in with
// OpenJupyter and run code with RunInNewNotebook. Every step waits on a condition in the page, never
// on a fixed pause, and is bounded by the step timeout (WithStepTimeout). With WithScreenshots each
// step leaves a PNG of the page behind, named NN-step.png, and NN-step-failed.png for a step that failed.
//
// The login form is the one jupyter_server and the classic notebook server render (input#password_input,
// button#login_submit). The notebook is created through the server's REST API from inside the
// logged-in page and then opened in whichever UI the server serves: the classic Notebook UI
// (notebook 6) or the JupyterLab 4 and Notebook 7 UIs.
package browser
