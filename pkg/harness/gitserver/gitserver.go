package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/labkit-dev/labkit/pkg/internal/exec"
)

// shutdownTimeout bounds how long Close waits for requests in flight before cutting their connections.
const shutdownTimeout = 10 * time.Second

// repoName is what CreateRepo accepts: no slashes, no leading dot, nothing a path or a URL would read specially.
var repoName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// hermetic keeps the host's git configuration out of every git command the server runs.
var hermetic = []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}

// Server is a running Git HTTP server.
type Server struct {
	root    string
	ownRoot bool // root is a temporary directory Start made, removed by Close
	ln      net.Listener
	srv     *http.Server
	served  chan struct{} // closed when Serve returned
	urlHost string        // the host URL hands out; the listen address's when empty
	log     logr.Logger
}

// Option configures Start.
type Option interface{ apply(*config) error }

type config struct {
	address, root, urlHost string
	log                    logr.Logger
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// WithAddress sets the host:port to listen on; the default is "127.0.0.1:0". Port 0 picks a free port.
// The host must be one the clients can reach, because URL hands it out: for a kind cluster, the
// gateway of the kind network (such as "172.18.0.1:0"). Unspecified addresses (0.0.0.0, ::) are refused.
func WithAddress(addr string) Option {
	return optionFunc(func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("listen address %q: %w", addr, err)
		}
		c.address = addr
		return nil
	})
}

// WithURLHost is the host name URL hands out instead of the listen address's host, with the port the
// server listens on: for a server in a container, listening on 0.0.0.0, the container's name on its
// network (such as "labkit-demo-git").
func WithURLHost(host string) Option {
	return optionFunc(func(c *config) error {
		if host == "" || strings.ContainsAny(host, ":/") {
			return fmt.Errorf("URL host %q: give a host name or address without a port, such as labkit-demo-git", host)
		}
		c.urlHost = host
		return nil
	})
}

// WithRoot serves the bare repositories <name>.git found in dir; the default is a new temporary directory that Close removes.
func WithRoot(dir string) Option {
	return optionFunc(func(c *config) error {
		if dir == "" {
			return errors.New("repository root is empty: give a directory holding <name>.git bare repositories")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("repository root %q: %w", dir, err)
		}
		c.root = abs
		return nil
	})
}

// WithLogger sets the logger; the default discards everything. Requests are logged at V(1), git's complaints at V(0).
func WithLogger(l logr.Logger) Option {
	return optionFunc(func(c *config) error {
		c.log = l
		return nil
	})
}

// Start listens and serves Git's smart HTTP protocol (clone, fetch and push) through git http-backend.
// ctx bounds the start only; the server runs until Close.
//
// It is a test server: anyone who can reach it may read and push to every repository, with no authentication.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	c := &config{address: "127.0.0.1:0", log: logr.Discard()}
	for _, o := range opts {
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	if host, _, _ := net.SplitHostPort(c.address); c.urlHost == "" {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return nil, fmt.Errorf("listen address %q has no host clients could reach: give one, such as the kind network's gateway 172.18.0.1:0, or name the host for URLs with WithURLHost", c.address)
		}
	}
	execPath, err := exec.Command(ctx, "git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("find git http-backend: %w", err)
	}
	s := &Server{root: c.root, urlHost: c.urlHost, served: make(chan struct{}), log: c.log}
	if s.root == "" {
		if s.root, err = os.MkdirTemp("", "gitserver-"); err != nil {
			return nil, fmt.Errorf("make a repository root: %w", err)
		}
		s.ownRoot = true
	} else if info, err := os.Stat(s.root); err != nil {
		return nil, fmt.Errorf("repository root: %w", err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("repository root %q is not a directory", s.root)
	}
	stderr := logWriter{c.log}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env: append([]string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1", // serve every repository, with or without a git-daemon-export-ok file
			// allow anonymous pushes, which http-backend otherwise refuses to unauthenticated users
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
		}, hermetic...),
		Stderr: stderr,
		Logger: log.New(stderr, "", 0),
	}
	if s.ln, err = net.Listen("tcp", c.address); err != nil {
		s.removeRoot()
		return nil, fmt.Errorf("listen on %s: %w", c.address, err)
	}
	s.srv = &http.Server{Handler: s.handler(backend), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(err, "git server stopped serving", "address", s.Addr())
		}
	}()
	s.log.Info("git server started", "address", s.Addr(), "root", s.root)
	return s, nil
}

// handler logs requests and buffers chunked request bodies, which CGI cannot pass on: git sends a push
// chunked when its pack is larger than http.postBuffer.
func (s *Server) handler(backend http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.V(1).Info("request", "method", r.Method, "url", r.URL.String(), "remote", r.RemoteAddr)
		if r.ContentLength < 0 {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			r.Body, r.ContentLength, r.TransferEncoding = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
		}
		backend.ServeHTTP(w, r)
	})
}

// CreateRepo makes an empty bare repository <name>.git whose default branch is main, and returns its URL.
// The name may hold letters, digits, '-', '_' and '.', not start with a dot, and not end with ".git".
// A repository that exists already is left as it is.
func (s *Server) CreateRepo(name string) (string, error) {
	if !repoName.MatchString(name) || strings.HasSuffix(name, ".git") {
		return "", fmt.Errorf("repository name %q is not simple: use letters, digits, '-', '_' and '.', without a leading dot or a .git suffix, such as \"labs\"", name)
	}
	dir := filepath.Join(s.root, name+".git")
	cmd := exec.Command(context.Background(), "git", "init", "--quiet", "--bare", "--initial-branch=main", dir) // local and instant: no context to honour
	cmd.Env = hermetic
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("create repository %q: %w", name, err)
	}
	s.log.V(1).Info("created repository", "name", name, "url", s.URL(name))
	return s.URL(name), nil
}

// URL returns the address of repository name (made or not) for clients, such as http://172.18.0.1:41234/labs.git.
func (s *Server) URL(name string) string {
	addr := s.Addr()
	if s.urlHost != "" {
		_, port, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort(s.urlHost, port)
	}
	return "http://" + addr + "/" + name + ".git"
}

// Addr returns the host:port the server listens on, with the port it picked.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, waiting up to 10 seconds for requests in flight, and removes the repository root
// if Start made it. The port is free when Close returns.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("shut down git server on %s: %w", s.Addr(), err), s.srv.Close())
	}
	<-s.served
	return errors.Join(err, s.removeRoot())
}

func (s *Server) removeRoot() error {
	if !s.ownRoot {
		return nil
	}
	if err := os.RemoveAll(s.root); err != nil {
		return fmt.Errorf("remove repository root: %w", err)
	}
	return nil
}

// logWriter passes what git http-backend and the CGI handler print to the logger, one entry per write.
type logWriter struct{ log logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info("git http-backend", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}
