package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// ErrNoReadyPod means a Service has no ready pod to forward to.
var ErrNoReadyPod = errors.New("no ready pod behind the Service")

// Forwarding is a running port-forward.
type Forwarding struct {
	// Address is the local address, "127.0.0.1:PORT".
	Address string
	// Pod is the pod the port is forwarded to.
	Pod string
	// Done receives the error that ended the forward (nil when ctx ended it), then is closed.
	Done <-chan error
}

// Option configures Forward and ForwardService.
type Option interface{ apply(*options) }

type options struct{ localPort int }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithLocalPort listens on this port of 127.0.0.1 instead of a free one.
func WithLocalPort(port int) Option { return optionFunc(func(o *options) { o.localPort = port }) }

// Forward forwards a local port on 127.0.0.1 (a free one unless WithLocalPort) to port of the pod, until
// ctx is done, and returns the local address ("127.0.0.1:PORT").
func Forward(ctx context.Context, cfg *rest.Config, namespace, pod string, port int, opts ...Option) (string, error) {
	f, err := start(ctx, cfg, namespace, pod, port, opts)
	if err != nil {
		return "", err
	}
	return f.Address, nil
}

// ForwardService forwards a local port to port of the Service namespace/name, as `kubectl port-forward
// service/NAME` does: to that port's target on the newest ready pod the Service selects. The forward
// ends with ctx, or when that pod goes away (Forwarding.Done says why).
func ForwardService(ctx context.Context, cfg *rest.Config, namespace, name string, port int, opts ...Option) (*Forwarding, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	svc, err := cs.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("port-forward to service %s/%s: %w", namespace, name, err)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if int(svc.Spec.Ports[i].Port) == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return nil, fmt.Errorf("port-forward to service %s/%s: it has no port %d", namespace, name, port)
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, fmt.Errorf("port-forward to service %s/%s: it selects no pods", namespace, name)
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, fmt.Errorf("port-forward to service %s/%s: list its pods: %w", namespace, name, err)
	}
	pod := newestReady(pods.Items)
	if pod == nil {
		return nil, fmt.Errorf("port-forward to service %s/%s: %w (of %d pods)", namespace, name, ErrNoReadyPod, len(pods.Items))
	}
	target, err := containerPort(pod, sp)
	if err != nil {
		return nil, fmt.Errorf("port-forward to service %s/%s: %w", namespace, name, err)
	}
	return start(ctx, cfg, namespace, pod.Name, target, opts)
}

func newestReady(pods []corev1.Pod) *corev1.Pod {
	var newest *corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !ready(p) {
			continue
		}
		if newest == nil || newest.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest = p
		}
	}
	return newest
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort is the pod's port that the Service port sp targets.
func containerPort(pod *corev1.Pod, sp *corev1.ServicePort) (int, error) {
	switch {
	case sp.TargetPort.IntValue() != 0:
		return sp.TargetPort.IntValue(), nil
	case sp.TargetPort.StrVal == "":
		return int(sp.Port), nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == sp.TargetPort.StrVal {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no port named %q", pod.Name, sp.TargetPort.StrVal)
}

func start(ctx context.Context, cfg *rest.Config, namespace, pod string, port int, opts []Option) (*Forwarding, error) {
	o := &options{}
	for _, opt := range opts {
		opt.apply(o)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("port-forward: API server address %q: %w", cfg.Host, err)
	}
	host.Path = fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/portforward", host.Path, namespace, pod)
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, host)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{strconv.Itoa(o.localPort) + ":" + strconv.Itoa(port)},
		ctx.Done(), ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	done := make(chan error, 1)
	go func() {
		err := pf.ForwardPorts()
		if err != nil {
			err = fmt.Errorf("port-forward to pod %s/%s port %d: %w", namespace, pod, port, err)
		}
		done <- err
		close(done)
	}()
	select {
	case <-ready:
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil {
		return nil, err
	}
	return &Forwarding{Address: fmt.Sprintf("127.0.0.1:%d", ports[0].Local), Pod: pod, Done: done}, nil
}
