package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr"
)

// EnvChromium names the environment variable that Find reads first: the path (or the name on PATH)
// of the Chromium or Chrome program to run.
const EnvChromium = "LABKIT_CHROMIUM"

// DefaultStepTimeout bounds each step (starting the browser, opening a page, logging in, running a
// cell) unless WithStepTimeout says otherwise. It is generous: a loaded 2-core machine starting a
// kernel and rendering JupyterLab can take tens of seconds.
const DefaultStepTimeout = 60 * time.Second

// StartTimeout bounds starting the browser and opening its tab, whatever the step timeout.
const StartTimeout = 60 * time.Second

// pollInterval is how often a wait looks at the page again.
const pollInterval = 200 * time.Millisecond

// screenshotTimeout bounds taking and saving one screenshot, which also runs after a step timed out.
const screenshotTimeout = 15 * time.Second

// ErrNoBrowser says that no Chromium or Chrome was found to run.
var ErrNoBrowser = errors.New("no Chromium or Chrome browser found")

// Find returns the path of the browser to run: $LABKIT_CHROMIUM when set, else the first of chromium,
// chromium-browser, google-chrome and google-chrome-stable found on PATH. When there is none, the error
// wraps ErrNoBrowser; a LABKIT_CHROMIUM that names no program is an error that does not, since it is a
// mistake to fix rather than a browser missing.
func Find() (string, error) {
	if name := os.Getenv(EnvChromium); name != "" {
		path, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s=%s names no program that can be run: %w; point it at Chromium's binary, such as /usr/bin/chromium, or unset it", EnvChromium, name, err)
		}
		return path, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: looked for $%s and for chromium, chromium-browser, google-chrome and google-chrome-stable on PATH; install Debian's chromium package (apt-get install chromium) or set %s to the browser's path",
		ErrNoBrowser, EnvChromium, EnvChromium)
}

// Option configures Start.
type Option interface{ apply(*config) error }

type config struct {
	execPath      string
	resolverRules string
	screenshots   string
	log           logr.Logger
	stepTimeout   time.Duration
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithExecPath runs the browser at path; the default is what Find returns.
func WithExecPath(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return errors.New("browser path is empty: give Chromium's binary, such as /usr/bin/chromium, or leave the option out to use Find")
		}
		c.execPath = path
		return nil
	})
}

// WithHostResolverRules passes rules to Chromium's --host-resolver-rules, such as
// "MAP *.labs.test 127.0.0.1", so that host names under a test domain reach a local port while the
// URLs (and so the Host headers and cookies) keep their names. Several rules are separated by commas.
func WithHostResolverRules(rules string) Option {
	return optionFunc(func(c *config) error {
		if strings.TrimSpace(rules) == "" {
			return errors.New("host resolver rules are empty: give rules such as \"MAP *.labs.test 127.0.0.1\", or leave the option out")
		}
		c.resolverRules = rules
		return nil
	})
}

// WithScreenshots saves a PNG of the page after each step into dir, which Start makes when missing:
// NN-step.png, or NN-step-failed.png when the step failed, NN counting the screenshots of this browser
// from 01. They are written whatever the outcome, so a caller that keeps them only for a failed test
// removes dir when the test passed.
func WithScreenshots(dir string) Option {
	return optionFunc(func(c *config) error {
		if dir == "" {
			return errors.New("screenshot directory is empty: give a directory such as artifacts/<test>, or leave the option out")
		}
		c.screenshots = dir
		return nil
	})
}

// WithLogger sets the logger; the default discards everything. Steps are logged at V(0); Chromium's
// own output, the page's console and chromedp's complaints at V(1).
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(c *config) error {
		c.log = l
		return nil
	})
}

// WithStepTimeout bounds each step instead of DefaultStepTimeout.
func WithStepTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("step timeout %s is not positive: give how long one step may take, such as 60s", d)
		}
		c.stepTimeout = d
		return nil
	})
}

// Browser is a running headless Chromium with one tab. It drives that one tab, so it is not safe
// for concurrent use; start a Browser for each goroutine. Close stops it.
type Browser struct {
	cfg        config
	tab        context.Context // the tab's chromedp context, alive until Close
	closeTab   context.CancelFunc
	closeAlloc context.CancelFunc
	background sync.WaitGroup // the goroutines that log the console and answer dialogs
	shots      int            // screenshots taken so far, for their NN prefix
	closeOnce  sync.Once
	closeErr   error
}

// Start starts Chromium headless, with a new empty profile in a temporary directory that Close
// removes. ctx bounds the start only; the browser runs until Close.
//
// The browser answers the page's JavaScript dialogs, logging each: it leaves a page that asks first
// (the notebook UIs do when a notebook has unsaved changes), acknowledges an alert and dismisses a
// confirm or a prompt.
//
// Chromium runs with --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
// --disable-background-networking --disable-component-update --disable-sync, among chromedp's usual
// flags: it needs --no-sandbox as root, and on a machine with no network the background connections
// it would make otherwise are refused.
func Start(ctx context.Context, opts ...Option) (*Browser, error) {
	c := config{log: logr.Discard(), stepTimeout: DefaultStepTimeout}
	for _, o := range opts {
		if err := o.apply(&c); err != nil {
			return nil, err
		}
	}
	if c.execPath == "" {
		path, err := Find()
		if err != nil {
			return nil, err
		}
		c.execPath = path
	}
	if c.screenshots != "" {
		if err := os.MkdirAll(c.screenshots, 0o755); err != nil {
			return nil, fmt.Errorf("make the screenshot directory: %w", err)
		}
	}

	flags := slices.Clone(chromedp.DefaultExecAllocatorOptions[:])
	flags = append(flags,
		chromedp.ExecPath(c.execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(logWriter{c.log.V(1).WithValues("source", "chromium")}),
	)
	if c.resolverRules != "" {
		flags = append(flags, chromedp.Flag("host-resolver-rules", c.resolverRules))
	}
	// No user-data-dir flag: chromedp then makes a new empty one in the temporary directory, and when
	// the browser stops it kills what is left of it and removes the directory.

	// The browser lives as long as the context of its first run, so that context must not be ctx.
	allocCtx, closeAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx), flags...)
	chromedpLog := c.log.V(1).WithValues("source", "chromedp")
	tab, closeTab := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(format string, args ...any) { chromedpLog.Info(fmt.Sprintf(format, args...)) }),
		chromedp.WithErrorf(func(format string, args ...any) { chromedpLog.Info(fmt.Sprintf(format, args...)) }),
	)
	// Starting is bounded on its own, not by the step timeout: a short step timeout must not fail a
	// browser that a loaded machine starts slowly.
	startCtx, cancel := context.WithTimeoutCause(ctx, StartTimeout,
		fmt.Errorf("the browser took longer than %s to start: %w", StartTimeout, context.DeadlineExceeded))
	defer cancel()
	// ctx bounds the start. closeTab must run once only: a second call can block for good.
	closed := make(chan struct{})
	stop := context.AfterFunc(startCtx, func() { closeTab(); close(closed) })
	err := chromedp.Do(tab)
	if !stop() {
		<-closed
		closeAlloc()
		return nil, fmt.Errorf("start %s: %w", c.execPath, context.Cause(startCtx))
	}
	if err != nil {
		closeTab()
		closeAlloc()
		return nil, fmt.Errorf("start %s: %w; check that it runs: %s --headless --no-sandbox --dump-dom about:blank", c.execPath, err, c.execPath)
	}
	b := &Browser{cfg: c, tab: tab, closeTab: closeTab, closeAlloc: closeAlloc}
	console, dialogs := chromedp.Console(tab), chromedp.Events(tab, page.JavascriptDialogOpening)
	b.background.Go(func() { b.logConsole(console) })
	b.background.Go(func() { b.answerDialogs(dialogs) })
	c.log.Info("browser started", "path", c.execPath)
	return b, nil
}

// logConsole logs what the page writes to its console, and its uncaught exceptions, until the tab closes.
func (b *Browser) logConsole(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	log := b.cfg.log.V(1).WithValues("source", "console")
	for m, err := range messages {
		if err != nil {
			return
		}
		log.Info(m.Text, "type", m.Type, "url", m.URL, "line", m.Line+1)
	}
}

// answerDialogs answers the page's JavaScript dialogs, which would otherwise block it, until the tab
// closes: it leaves a page that asks whether to (the classic notebook asks when it has unsaved
// changes), so that the next step's navigation goes through; it acknowledges an alert and dismisses a
// confirm or a prompt, agreeing to nothing on the user's behalf.
func (b *Browser) answerDialogs(dialogs iter.Seq2[page.EventJavascriptDialogOpening, error]) {
	for d, err := range dialogs {
		if err != nil {
			return
		}
		accept := d.Type == page.DialogTypeBeforeunload || d.Type == page.DialogTypeAlert
		b.cfg.log.Info("answering a dialog of the page", "type", d.Type, "message", d.Message, "url", d.URL, "accepted", accept)
		ctx, cancel := context.WithTimeout(b.tab, screenshotTimeout)
		_, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
		cancel()
		if err != nil && b.tab.Err() == nil {
			b.cfg.log.Error(err, "dialog not answered", "type", d.Type, "message", d.Message)
		}
	}
}

// Close stops the browser and removes its profile directory. It is safe to call more than once.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		// Cancel closes the browser gracefully and reports what went wrong on the way, such as a
		// profile directory it could not remove; the timeout bounds the graceful part.
		ctx, cancel := context.WithTimeout(b.tab, 30*time.Second)
		err := chromedp.Cancel(ctx)
		cancel()
		b.closeTab()
		b.closeAlloc()
		b.background.Wait()
		if err != nil && !errors.Is(err, context.Canceled) {
			b.closeErr = fmt.Errorf("close the browser: %w", err)
		}
	})
	return b.closeErr
}

// step runs f as the step name: bounded by the step timeout and by ctx, logged, and followed by a
// screenshot. f gets a context of the browser's tab, which chromedp needs.
func (b *Browser) step(ctx context.Context, name string, f func(ctx context.Context) error) error {
	start := time.Now()
	tctx, cancel := context.WithCancelCause(b.tab)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(fmt.Errorf("step %q: %w", name, context.Cause(ctx))) })
	defer stop()
	sctx, cancelTimeout := context.WithTimeoutCause(tctx, b.cfg.stepTimeout,
		fmt.Errorf("step %q took longer than %s: %w", name, b.cfg.stepTimeout, context.DeadlineExceeded))
	defer cancelTimeout()
	err := f(sctx)
	if err != nil && sctx.Err() != nil {
		if cause := context.Cause(sctx); !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	}
	took := time.Since(start).Round(time.Millisecond)
	shot := name
	if err != nil {
		shot += "-failed"
		b.cfg.log.Info("browser step failed", "step", name, "took", took, "error", err.Error())
	} else {
		b.cfg.log.Info("browser step done", "step", name, "took", took)
	}
	b.screenshot(shot)
	return err
}

// screenshot saves the page as NN-name.png when WithScreenshots is set. A screenshot is evidence, not
// the test, so failing to take one is logged, not returned.
func (b *Browser) screenshot(name string) {
	if b.cfg.screenshots == "" {
		return
	}
	b.shots++
	path := filepath.Join(b.cfg.screenshots, fmt.Sprintf("%02d-%s.png", b.shots, name))
	ctx, cancel := context.WithTimeout(b.tab, screenshotTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.cfg.log.Error(err, "screenshot not saved", "path", path)
	}
}

// waitFor runs the JavaScript function fn (async or not) in the page every pollInterval until it
// returns a truthy value, which it decodes into T: a condition to wait on returns a falsy value while
// it does not hold. A navigation destroys the page's JavaScript context and so fails the poll; waitFor
// then polls again in the next page. ctx bounds it all, and the error says what was awaited.
func waitFor[T any](ctx context.Context, what, fn string, args ...any) (T, error) {
	var zero T
	var last error
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`delete window.__labkitSeen`)) // a page between documents has none anyway
	for {
		timeout := time.Duration(0) // none: ctx alone bounds the wait
		if deadline, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(deadline), time.Millisecond)
		}
		v, err := chromedp.Run(ctx, chromedp.PollFunction[T](fn,
			chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(timeout), chromedp.WithPollingArgs(args...)))
		if err == nil {
			return v, nil
		}
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			<-ctx.Done() // the poll ran until ctx's deadline, so ctx is ending too
		} else if ctx.Err() == nil {
			// Most likely the page is between two documents: look again in a moment.
			last = err
			t := time.NewTimer(pollInterval)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		err = fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		if last != nil {
			err = fmt.Errorf("%w; before that: %w", err, last)
		}
		if seen := lastSeen(ctx); seen != "" {
			err = fmt.Errorf("%w; the page showed %s", err, seen)
		}
		return zero, err
	}
}

// lastSeen is what the functions that waitFor polls last saw in the page, which they leave in
// window.__labkitSeen; ctx may have ended.
func lastSeen(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.__labkitSeen || '')`))
	if err != nil {
		return ""
	}
	return seen
}

// logWriter logs each line written to it.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		if line := strings.TrimSpace(string(line)); line != "" {
			w.log.Info(line)
		}
	}
	return len(p), nil
}
