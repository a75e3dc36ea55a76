package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ErrLoginRefused says that the Jupyter server turned the password down: its login page came back.
var ErrLoginRefused = errors.New("the Jupyter server refused the password")

// UI is the web UI a Jupyter server serves.
type UI string

const (
	// UIClassic is the classic Notebook UI of notebook 6 (/tree, /notebooks/<path>).
	UIClassic UI = "classic"
	// UILab is JupyterLab 4 (/lab, /lab/tree/<path>).
	UILab UI = "jupyterlab"
	// UINotebook7 is Notebook 7, built on JupyterLab (/tree, /notebooks/<path>).
	UINotebook7 UI = "notebook7"
)

// Jupyter is a Jupyter server that the browser is logged in to.
type Jupyter struct {
	b    *Browser
	base string // the server's base URL, absolute and ending in "/", as its pages give it
	ui   UI
}

// UI says which web UI the server serves.
func (j *Jupyter) UI() UI { return j.ui }

// BaseURL is the server's base URL as its pages give it, ending in "/".
func (j *Jupyter) BaseURL() string { return j.base }

// pageState is what pageStateJS makes of the page.
type pageState struct {
	State   string `json:"state"`   // "login" or a UI
	Message string `json:"message"` // the login page's error message
	Base    string `json:"base"`    // the server's base URL, for a UI
}

// OpenJupyter opens baseURL (such as http://alice.labs.test/) the way a person would in a new
// browser, with none of the cookies this one holds for it: the server must show its login form,
// where OpenJupyter types password and clicks "Log in". It returns once the server's UI is shown,
// logged in. When the login page comes back instead, the error wraps ErrLoginRefused and carries the
// page's message ("Invalid credentials") and the HTTP status (401).
//
// A server that shows its UI without asking for a password is an error too: a lab that has a password
// or a token must ask for it. A token logs in through the same form, as password.
func (b *Browser) OpenJupyter(ctx context.Context, baseURL, password string) (*Jupyter, error) {
	if u, err := url.Parse(baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("lab URL %q is not an http or https URL such as http://alice.labs.test/", baseURL)
	}
	var page pageState
	err := b.step(ctx, "login-page", func(ctx context.Context) error {
		if err := forgetCookies(ctx, baseURL); err != nil {
			return fmt.Errorf("delete the browser's cookies for %s: %w", baseURL, err)
		}
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(baseURL))
		if err != nil {
			return fmt.Errorf("open %s: %w; is the server up, and does the browser resolve its host (WithHostResolverRules)?", baseURL, err)
		}
		if page, err = waitFor[pageState](ctx, "the login page or the Jupyter UI", pageStateJS); err != nil {
			return fmt.Errorf("open %s (HTTP %d): %w", baseURL, status(resp), err)
		}
		if page.State != "login" {
			return fmt.Errorf("%s showed the %s UI without asking for a password: a lab with a password or a token must ask for it", baseURL, page.State)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = b.step(ctx, "logged-in", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#password_input"), password)); err != nil {
			return fmt.Errorf("type the password into the login form of %s: %w", baseURL, err)
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#login_submit")))
		if err != nil {
			return fmt.Errorf("submit the login form of %s: %w", baseURL, err)
		}
		if page, err = waitFor[pageState](ctx, "the Jupyter UI after logging in", pageStateJS); err != nil {
			return fmt.Errorf("log in to %s (the form's answer: HTTP %d): %w", baseURL, status(resp), err)
		}
		if page.State == "login" {
			msg := page.Message
			if msg == "" {
				msg = "no message"
			}
			return fmt.Errorf("log in to %s: %w: HTTP %d, and the login page came back with %q", baseURL, ErrLoginRefused, status(resp), msg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Jupyter{b: b, base: page.Base, ui: UI(page.State)}, nil
}

// newNotebook is what createNotebookJS returns.
type newNotebook struct {
	Path   string `json:"path"`
	Kernel string `json:"kernel"`
	Error  string `json:"error"`
}

// cellOutput is what outputJS returns.
type cellOutput struct {
	Text string `json:"text"`
}

// RunInNewNotebook creates a new notebook with a Python 3 kernel (the server's default kernel when it
// has no python3), opens it, waits until its kernel is connected and idle, types code into the first
// cell, runs it with Shift+Enter and returns what the cell printed once it has run, with trailing white
// space trimmed: "42" for print(6*7). The code must print something (an error's traceback counts),
// since RunInNewNotebook waits for output.
//
// The notebook is created through the server's REST API from the logged-in page, so that the same
// steps work in every UI; it stays on the server, named by the server (Untitled.ipynb and so on).
func (j *Jupyter) RunInNewNotebook(ctx context.Context, code string) (string, error) {
	return j.runInNewNotebook(ctx, code, true)
}

// StartInNewNotebook is RunInNewNotebook, but returns as soon as the cell has printed something, while
// it may still run: for a long cell that prints first, e.g. to leave a kernel busy with no browser
// watching.
func (j *Jupyter) StartInNewNotebook(ctx context.Context, code string) (string, error) {
	return j.runInNewNotebook(ctx, code, false)
}

func (j *Jupyter) runInNewNotebook(ctx context.Context, code string, untilDone bool) (string, error) {
	editor := jpPanel + " .jp-Cell.jp-CodeCell .cm-content"
	route := "notebooks/"
	switch j.ui {
	case UIClassic:
		editor = "#notebook-container .cell.code_cell .CodeMirror"
	case UILab:
		route = "lab/tree/"
	}
	var nb newNotebook
	err := j.b.step(ctx, "notebook-open", func(ctx context.Context) error {
		var err error
		nb, err = chromedp.Run(ctx, chromedp.Evaluate[newNotebook](call(createNotebookJS, j.base), chromedp.EvalAwaitPromise))
		if err == nil && nb.Error != "" {
			err = errors.New(nb.Error)
		}
		if err != nil {
			return fmt.Errorf("create a notebook through %sapi/contents: %w", j.base, err)
		}
		page := j.base + route + escapePath(nb.Path)
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			return fmt.Errorf("open the notebook %s: %w", page, err)
		}
		if _, err := waitFor[bool](ctx, "the first cell of "+page, editorReadyJS, string(j.ui)); err != nil {
			return err
		}
		if _, err := waitFor[string](ctx, "the "+nb.Kernel+" kernel of "+page+" to be connected and idle", kernelReadyJS, j.base, nb.Path, string(j.ui)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	var out cellOutput
	err = j.b.step(ctx, "cell-run", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(editor), chromedp.RetryInterval(50*time.Millisecond))); err != nil {
			return fmt.Errorf("click into the first cell: %w", err)
		}
		if _, err := waitFor[bool](ctx, "the first cell's editor to have the focus", editorFocusedJS, string(j.ui)); err != nil {
			return err
		}
		// Inserted as text, as a paste or an IME would: typed key by key, the editor would close
		// brackets and indent lines by itself and so change the code.
		if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: code}); err != nil {
			return fmt.Errorf("type the code: %w", err)
		}
		if _, err := waitFor[bool](ctx, "the first cell to hold the code typed", editorHoldsJS, string(j.ui), code); err != nil {
			return err
		}
		if err := pressShiftEnter(ctx); err != nil {
			return fmt.Errorf("press Shift+Enter to run the cell: %w", err)
		}
		var err error
		what := "the cell to run and show output"
		if !untilDone {
			what = "the cell to show output"
		}
		out, err = waitFor[cellOutput](ctx, what, outputJS, string(j.ui), untilDone)
		return err
	})
	if err != nil {
		return "", err
	}
	return strings.TrimRightFunc(out.Text, unicode.IsSpace), nil
}

// forgetCookies deletes the cookies that the browser would send to url.
func forgetCookies(ctx context.Context, url string) error {
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		return err
	}
	for _, c := range res.Cookies {
		if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: c.Name, Domain: c.Domain, Path: c.Path}); err != nil {
			return err
		}
	}
	return nil
}

// pressShiftEnter sends Shift+Enter to the focused element as a key down and a key up, with no
// character event, which would add a line break to the next cell.
func pressShiftEnter(ctx context.Context) error {
	const shift = 8 // the protocol's bit for Shift
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Modifiers: shift, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		}); err != nil {
			return err
		}
	}
	return nil
}

// status is the HTTP status of resp, 0 when there is none.
func status(resp *network.Response) int64 {
	if resp == nil {
		return 0
	}
	return resp.Status
}

// escapePath escapes each segment of a notebook path for a URL.
func escapePath(p string) string {
	segments := strings.Split(p, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}

// call is a JavaScript expression calling the function fn with args, encoded as JSON.
func call(fn string, args ...any) string {
	encoded := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil { // strings always marshal
			panic(err)
		}
		encoded[i] = string(b)
	}
	return "(" + fn + ")(" + strings.Join(encoded, ", ") + ")"
}

// jpPanel selects the notebook shown in JupyterLab and Notebook 7.
const jpPanel = ".jp-NotebookPanel:not(.lm-mod-hidden):not(.p-mod-hidden)"

// The JavaScript below runs in the page. Each function that waitFor polls returns a falsy value
// while its condition does not hold, and sets window.__labkitSeen to what it saw, for the error
// message should the wait time out. None throws: an exception would end the wait.

// pageStateJS tells the login page (and its error message) from a UI that has finished loading, and
// finds the server's base URL in the UI's page: the classic UI has it in <body data-base-url>,
// JupyterLab and Notebook 7 in the JSON of #jupyter-config-data.
const pageStateJS = `function() {
	try {
		const q = s => document.querySelector(s);
		const abs = b => { const u = new URL(b || '/', location.href).href; return u.endsWith('/') ? u : u + '/'; };
		if (q('#password_input')) {
			const m = q('.message.error');
			return {state: 'login', message: m ? m.innerText.trim() : ''};
		}
		const cfg = q('#jupyter-config-data');
		if (cfg) {
			const c = JSON.parse(cfg.textContent);
			if (q('.jp-LabShell') && !q('#jupyterlab-splash')) return {state: 'jupyterlab', base: abs(c.baseUrl)};
			const main = q('#main-panel');
			if (main && main.children.length > 0) return {state: 'notebook7', base: abs(c.baseUrl)};
			window.__labkitSeen = 'a page of ' + (c.appName || 'JupyterLab or Notebook 7') + ' still loading at ' + location.href;
			return null;
		}
		if (document.body && document.body.dataset.baseUrl !== undefined && (q('#notebook_list') || q('#notebook-container'))) {
			return {state: 'classic', base: abs(decodeURIComponent(document.body.dataset.baseUrl))};
		}
		window.__labkitSeen = 'a page titled ' + JSON.stringify(document.title) + ' at ' + location.href + ' reading ' +
			JSON.stringify((document.body ? document.body.innerText : '').trim().slice(0, 300));
		return null;
	} catch (e) {
		window.__labkitSeen = 'an error reading the page: ' + e;
		return null;
	}
}`

// createNotebookJS creates a notebook with one empty code cell and the kernel python3 (else the
// server's default) through the REST API, with the _xsrf cookie as the X-XSRFToken header the
// servers want on a POST or a PUT. It returns {path, kernel}, or {error}.
const createNotebookJS = `async function(base) {
	const xsrf = (document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/) || [])[1];
	const headers = {'Content-Type': 'application/json'};
	if (xsrf) headers['X-XSRFToken'] = decodeURIComponent(xsrf);
	const api = async (method, path, body) => {
		const r = await fetch(base + path, {method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body)});
		const text = await r.text();
		if (!r.ok) throw new Error(method + ' ' + base + path + ': HTTP ' + r.status + ' ' + text.slice(0, 500));
		return JSON.parse(text);
	};
	try {
		const specs = await api('GET', 'api/kernelspecs');
		const kernel = specs.kernelspecs.python3 ? 'python3' : specs.default;
		const spec = (specs.kernelspecs[kernel] || {}).spec || {};
		const model = await api('POST', 'api/contents', {type: 'notebook'});
		await api('PUT', 'api/contents/' + model.path.split('/').map(encodeURIComponent).join('/'), {
			type: 'notebook', format: 'json',
			content: {
				nbformat: 4, nbformat_minor: 4,
				metadata: {kernelspec: {name: kernel, display_name: spec.display_name || kernel, language: spec.language || 'python'}},
				cells: [{cell_type: 'code', source: '', metadata: {}, outputs: [], execution_count: null}],
			},
		});
		return {path: model.path, kernel};
	} catch (e) {
		return {error: String(e && e.message || e)};
	}
}`

// editorReadyJS waits for the first code cell's editor; in the classic UI, for the notebook to have loaded too.
const editorReadyJS = `function(ui) {
	try {
		if (ui === 'classic') {
			const nb = window.Jupyter && window.Jupyter.notebook;
			if (!nb || !nb._fully_loaded) { window.__labkitSeen = 'the classic notebook still loading'; return null; }
			return !!document.querySelector('#notebook-container .cell.code_cell .CodeMirror') || null;
		}
		window.__labkitSeen = 'no code cell editor in ' + location.href;
		return !!document.querySelector('` + jpPanel + ` .jp-Cell.jp-CodeCell .cm-content') || null;
	} catch (e) {
		window.__labkitSeen = 'an error reading the page: ' + e;
		return null;
	}
}`

// kernelReadyJS asks the server for the notebook's session: its kernel must be idle with at least one
// connection, the page's websocket; the classic UI's kernel object must say it is connected too.
// It returns the kernel's id.
const kernelReadyJS = `async function(base, path, ui) {
	try {
		const r = await fetch(base + 'api/sessions', {credentials: 'same-origin'});
		if (!r.ok) { window.__labkitSeen = 'GET api/sessions: HTTP ' + r.status; return null; }
		const sessions = await r.json();
		// The session's path is the notebook's ("RTC:" before it with real-time collaboration).
		const s = sessions.find(s => [s.path, (s.notebook || {}).path].some(p => p === path || (p || '').endsWith(':' + path)));
		if (!s || !s.kernel) { window.__labkitSeen = 'no session for ' + path + ' among ' + sessions.length; return null; }
		const k = s.kernel;
		window.__labkitSeen = 'kernel ' + k.id + ' ' + k.execution_state + ' with ' + k.connections + ' connections';
		const kk = ui === 'classic' && window.Jupyter && window.Jupyter.notebook && window.Jupyter.notebook.kernel;
		// The server learns that a new kernel is idle from the status messages of its first replies;
		// when those were sent before the server listened (a loaded machine), it says "starting" until
		// the kernel's next message. A kernel_info request, as the page sends when it connects, makes
		// one: at most every two seconds, from a page connected to the kernel.
		if (k.execution_state === 'starting' && kk && kk.is_connected() && !(Date.now() - (window.__labkitNudged || 0) < 2000)) {
			window.__labkitNudged = Date.now();
			kk.kernel_info(() => {});
			window.__labkitSeen += ' (asked the kernel for its info, so that the server hears it is idle)';
		}
		if (k.execution_state !== 'idle' || !(k.connections > 0)) return null;
		if (ui === 'classic' && (!kk || !kk.is_connected())) { window.__labkitSeen += ', but the page is not connected to it'; return null; }
		return k.id;
	} catch (e) {
		window.__labkitSeen = 'an error asking for the sessions: ' + e;
		return null;
	}
}`

// editorText is a JavaScript expression of the text in the first cell's editor, null when none: CodeMirror 5's
// getValue in the classic UI, CodeMirror 6's document in JupyterLab and Notebook 7 (its lines' text
// should its view not be reachable).
const editorText = `(() => {
	if (ui === 'classic') {
		const cm = document.querySelector('#notebook-container .cell.code_cell .CodeMirror');
		return cm && cm.CodeMirror ? cm.CodeMirror.getValue() : null;
	}
	const c = document.querySelector('` + jpPanel + ` .jp-Cell.jp-CodeCell .cm-content');
	if (!c) return null;
	const v = c.cmView && (c.cmView.rootView ? c.cmView.rootView.view : c.cmView.view);
	if (v && v.state) return v.state.doc.toString();
	return Array.from(c.querySelectorAll('.cm-line')).map(l => l.textContent).join('\n');
})()`

// editorFocusedJS waits for the first cell's editor to have the keyboard focus.
const editorFocusedJS = `function(ui) {
	try {
		if (ui === 'classic') {
			const cm = document.querySelector('#notebook-container .cell.code_cell .CodeMirror');
			window.__labkitSeen = 'the focus on ' + (document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : 'nothing');
			return !!(cm && cm.CodeMirror && cm.CodeMirror.hasFocus()) || null;
		}
		const c = document.querySelector('` + jpPanel + ` .jp-Cell.jp-CodeCell .cm-content');
		window.__labkitSeen = 'the focus on ' + (document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : 'nothing');
		return !!(c && c.contains(document.activeElement)) || null;
	} catch (e) {
		window.__labkitSeen = 'an error reading the page: ' + e;
		return null;
	}
}`

// editorHoldsJS waits for the first cell's editor to hold want.
const editorHoldsJS = `function(ui, want) {
	try {
		const got = ` + editorText + `;
		window.__labkitSeen = 'the editor holding ' + JSON.stringify(got);
		return got === want || null;
	} catch (e) {
		window.__labkitSeen = 'an error reading the editor: ' + e;
		return null;
	}
}`

// outputJS waits for the first cell to have run, its prompt showing an execution count such as [1],
// and to show output; it returns the output's text.
const outputJS = `function(ui, untilDone) {
	try {
		let cell, prompt, outs;
		if (ui === 'classic') {
			cell = document.querySelector('#notebook-container .cell.code_cell');
			prompt = cell && cell.querySelector('.input_prompt');
			outs = cell ? cell.querySelectorAll('.output_area .output_subarea') : [];
		} else {
			cell = document.querySelector('` + jpPanel + ` .jp-Cell.jp-CodeCell');
			prompt = cell && cell.querySelector('.jp-InputArea-prompt');
			outs = cell ? cell.querySelectorAll('.jp-OutputArea-output') : [];
		}
		const p = prompt ? prompt.innerText.trim() : '';
		const text = Array.from(outs).map(o => o.innerText).join('\n');
		window.__labkitSeen = 'the prompt ' + JSON.stringify(p) + ' and the output ' + JSON.stringify(text);
		if ((untilDone && !/\[\d+\]/.test(p)) || text.trim() === '') return null;
		return {text};
	} catch (e) {
		window.__labkitSeen = 'an error reading the cell: ' + e;
		return null;
	}
}`
