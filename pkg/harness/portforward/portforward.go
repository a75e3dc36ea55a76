package portforward

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward forwards a free local port on 127.0.0.1 to port of the pod, until ctx is done, and returns
// the local address ("127.0.0.1:PORT").
func Forward(ctx context.Context, cfg *rest.Config, namespace, pod string, port int) (string, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return "", fmt.Errorf("port-forward: API server address %q: %w", cfg.Host, err)
	}
	host.Path = fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/portforward", host.Path, namespace, pod)
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, host)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, ctx.Done(), ready, io.Discard, io.Discard)
	if err != nil {
		return "", fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	failed := make(chan error, 1)
	go func() { failed <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-failed:
		return "", fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, pod, port, err)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), nil
}
