package labstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// CheckJupyter asks the Jupyter server at url (the lab's URL, ending in "/") for /api, which answers
// without credentials with the server's version, and says why not when it does not. Host names under
// "localhost" reach the loopback address, as RFC 6761 asks and browsers do, so a lab at
// http://ada.jupyter.localhost:38080/ is checked as a browser on this machine would open it.
func CheckJupyter(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/api", nil)
	if err != nil {
		return fmt.Errorf("lab URL %q: %w", url, err)
	}
	c := &http.Client{Transport: localhostTransport()}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if err != nil {
		return err
	}
	var api struct {
		Version string `json:"version"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &api) != nil || api.Version == "" {
		return fmt.Errorf("GET %sapi answered %s, not a Jupyter server's version", url, res.Status)
	}
	return nil
}

// localhostTransport is the default transport, but dialling *.localhost on the loopback address.
func localhostTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dial := (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dial(ctx, network, addr)
	}
	return t
}
