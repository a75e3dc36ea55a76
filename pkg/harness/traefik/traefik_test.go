package traefik_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/harness/traefik"
)

// objects is a Manifest decoded strictly into typed objects, so that a misspelt field fails.
type objects struct {
	order              []string // "Kind namespace/name", in stream order
	namespace          corev1.Namespace
	serviceAccount     corev1.ServiceAccount
	clusterRole        rbacv1.ClusterRole
	clusterRoleBinding rbacv1.ClusterRoleBinding
	ingressClass       networkingv1.IngressClass
	deployment         appsv1.Deployment
	service            corev1.Service
}

func decode(t *testing.T, opts ...traefik.Option) *objects {
	t.Helper()
	stream, err := traefik.Manifest(opts...)
	if err != nil {
		t.Fatalf("Manifest() = %v", err)
	}
	out := &objects{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read the manifest: %v", err)
		}
		if len(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---")))) == 0 {
			continue
		}
		var tm metav1.PartialObjectMetadata
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("decode document %q: %v", doc, err)
		}
		into := map[string]any{
			"Namespace":          &out.namespace,
			"ServiceAccount":     &out.serviceAccount,
			"ClusterRole":        &out.clusterRole,
			"ClusterRoleBinding": &out.clusterRoleBinding,
			"IngressClass":       &out.ingressClass,
			"Deployment":         &out.deployment,
			"Service":            &out.service,
		}[tm.Kind]
		if into == nil {
			t.Fatalf("unexpected kind %s in the manifest:\n%s", tm.Kind, doc)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("decode %s strictly: %v", tm.Kind, err)
		}
		id := tm.Kind + " " + tm.Name
		if tm.Namespace != "" {
			id = tm.Kind + " " + tm.Namespace + "/" + tm.Name
		}
		out.order = append(out.order, tm.APIVersion+" "+id)
	}
	return out
}

func TestManifestKinds(t *testing.T) {
	got := decode(t).order
	want := []string{
		"v1 Namespace traefik",
		"v1 ServiceAccount traefik/traefik",
		"rbac.authorization.k8s.io/v1 ClusterRole traefik-traefik",
		"rbac.authorization.k8s.io/v1 ClusterRoleBinding traefik-traefik",
		"networking.k8s.io/v1 IngressClass traefik",
		"apps/v1 Deployment traefik/traefik",
		"v1 Service traefik/traefik",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Manifest() objects (-want +got):\n%s", diff)
	}
}

func TestManifestDefaults(t *testing.T) {
	o := decode(t)
	if got, want := o.ingressClass.Spec.Controller, traefik.ControllerName; got != want {
		t.Errorf("IngressClass controller = %q, want %q", got, want)
	}
	if _, ok := o.ingressClass.Annotations["ingressclass.kubernetes.io/is-default-class"]; ok {
		t.Errorf("IngressClass annotations = %v, want it not to be the default class", o.ingressClass.Annotations)
	}
	if got := ptr.Deref(o.deployment.Spec.Replicas, 0); got != 1 {
		t.Errorf("Deployment replicas = %d, want 1", got)
	}
	if got := o.deployment.Spec.Template.Spec.ServiceAccountName; got != o.serviceAccount.Name {
		t.Errorf("pod service account = %q, want %q", got, o.serviceAccount.Name)
	}
	c := o.deployment.Spec.Template.Spec.Containers[0]
	if c.Image != traefik.DefaultImage || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container image = %s (%s), want %s (IfNotPresent)", c.Image, c.ImagePullPolicy, traefik.DefaultImage)
	}
	wantArgs := []string{
		"--global.checknewversion=false",
		"--global.sendanonymoususage=false",
		"--entrypoints.web.address=:8000",
		"--entrypoints.traefik.address=:8080",
		"--ping=true",
		"--ping.entrypoint=traefik",
		"--providers.kubernetesingress=true",
		"--providers.kubernetesingress.ingressclass=traefik",
		"--log.level=INFO",
	}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("container args (-want +got):\n%s", diff)
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ping" || p.HTTPGet.Port.String() != "traefik" {
			t.Errorf("%s probe = %+v, want GET /ping on port traefik", name, p)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"web": 8000, "traefik": 8080}, ports); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if mounts["/tmp"] == "" {
		t.Errorf("volume mounts = %+v, want one at /tmp", c.VolumeMounts)
	}
	for _, v := range o.deployment.Spec.Template.Spec.Volumes {
		if v.Name == mounts["/tmp"] && v.EmptyDir == nil {
			t.Errorf("volume %s at /tmp = %+v, want an emptyDir", v.Name, v.VolumeSource)
		}
	}

	s := o.service.Spec
	if s.Type != corev1.ServiceTypeNodePort || len(s.Ports) != 1 {
		t.Fatalf("Service spec = %+v, want type NodePort with one port", s)
	}
	if p := s.Ports[0]; p.Port != traefik.WebPort || p.NodePort != traefik.DefaultNodePort || p.TargetPort.String() != "web" {
		t.Errorf("Service port = %+v, want port %d, node port %d, target port web", p, traefik.WebPort, traefik.DefaultNodePort)
	}
	if diff := cmp.Diff(o.deployment.Spec.Selector.MatchLabels, s.Selector); diff != "" {
		t.Errorf("Service selector differs from the Deployment's (-deployment +service):\n%s", diff)
	}
	if diff := cmp.Diff(o.deployment.Spec.Selector.MatchLabels, o.deployment.Spec.Template.Labels); diff != "" {
		t.Errorf("Deployment selector differs from the pod labels (-selector +labels):\n%s", diff)
	}
	if got := o.clusterRoleBinding.RoleRef; got.Kind != "ClusterRole" || got.Name != o.clusterRole.Name {
		t.Errorf("ClusterRoleBinding roleRef = %+v, want ClusterRole %s", got, o.clusterRole.Name)
	}
	wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: o.serviceAccount.Name, Namespace: o.serviceAccount.Namespace}}
	if diff := cmp.Diff(wantSubjects, o.clusterRoleBinding.Subjects); diff != "" {
		t.Errorf("ClusterRoleBinding subjects (-want +got):\n%s", diff)
	}
}

// TestClusterRole asserts what the Kubernetes Ingress provider needs, and no more: it watches Services,
// Secrets (for TLS), EndpointSlices (Traefik v3.1+), Ingresses, IngressClasses, and Nodes (v3.1+, for
// NodePort load balancing) and updates Ingress statuses only when it publishes an address.
func TestClusterRole(t *testing.T) {
	read := []string{"get", "list", "watch"}
	base := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "secrets", "nodes"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses"}, Verbs: read},
	}
	tests := []struct {
		name string
		opts []traefik.Option
		want []rbacv1.PolicyRule
	}{
		{name: "defaults", want: base},
		{
			name: "ingress status",
			opts: []traefik.Option{traefik.WithIngressStatusIP("127.0.0.1")},
			want: append(slices.Clone(base), rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, decode(t, tt.opts...).clusterRole.Rules); diff != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	args := func(o *objects) []string { return o.deployment.Spec.Template.Spec.Containers[0].Args }
	tests := []struct {
		name  string
		opts  []traefik.Option
		check func(t *testing.T, o *objects)
	}{
		{
			name: "namespace",
			opts: []traefik.Option{traefik.WithNamespace("edge")},
			check: func(t *testing.T, o *objects) {
				for _, m := range []metav1.ObjectMeta{o.serviceAccount.ObjectMeta, o.deployment.ObjectMeta, o.service.ObjectMeta} {
					if m.Namespace != "edge" {
						t.Errorf("%s namespace = %q, want edge", m.Name, m.Namespace)
					}
				}
				if o.namespace.Name != "edge" || o.clusterRole.Name != "traefik-edge" || o.clusterRoleBinding.Name != "traefik-edge" {
					t.Errorf("namespace %s, ClusterRole %s, ClusterRoleBinding %s, want edge, traefik-edge, traefik-edge",
						o.namespace.Name, o.clusterRole.Name, o.clusterRoleBinding.Name)
				}
				if got := o.clusterRoleBinding.Subjects[0].Namespace; got != "edge" {
					t.Errorf("ClusterRoleBinding subject namespace = %q, want edge", got)
				}
			},
		},
		{
			name: "image",
			opts: []traefik.Option{traefik.WithImage("registry.example/traefik:v3.6.13")},
			check: func(t *testing.T, o *objects) {
				if got := o.deployment.Spec.Template.Spec.Containers[0].Image; got != "registry.example/traefik:v3.6.13" {
					t.Errorf("image = %q, want registry.example/traefik:v3.6.13", got)
				}
			},
		},
		{
			name: "ingress class",
			opts: []traefik.Option{traefik.WithIngressClass("public")},
			check: func(t *testing.T, o *objects) {
				if o.ingressClass.Name != "public" {
					t.Errorf("IngressClass name = %q, want public", o.ingressClass.Name)
				}
				if !slices.Contains(args(o), "--providers.kubernetesingress.ingressclass=public") {
					t.Errorf("args = %q, want the ingress class public", args(o))
				}
			},
		},
		{
			name: "default ingress class",
			opts: []traefik.Option{traefik.WithDefaultIngressClass()},
			check: func(t *testing.T, o *objects) {
				if got := o.ingressClass.Annotations["ingressclass.kubernetes.io/is-default-class"]; got != "true" {
					t.Errorf("is-default-class annotation = %q, want true", got)
				}
			},
		},
		{
			name: "node port",
			opts: []traefik.Option{traefik.WithNodePort(31234)},
			check: func(t *testing.T, o *objects) {
				if got := o.service.Spec.Ports[0].NodePort; got != 31234 {
					t.Errorf("node port = %d, want 31234", got)
				}
			},
		},
		{
			name: "node port chosen by the API server",
			opts: []traefik.Option{traefik.WithNodePort(0)},
			check: func(t *testing.T, o *objects) {
				if got := o.service.Spec.Ports[0].NodePort; got != 0 {
					t.Errorf("node port = %d, want it unset", got)
				}
			},
		},
		{
			name: "ingress status, access log, log level",
			opts: []traefik.Option{traefik.WithIngressStatusIP("127.0.0.1"), traefik.WithAccessLog(), traefik.WithLogLevel("debug")},
			check: func(t *testing.T, o *objects) {
				for _, want := range []string{"--providers.kubernetesingress.ingressendpoint.ip=127.0.0.1", "--accesslog=true", "--log.level=DEBUG"} {
					if !slices.Contains(args(o), want) {
						t.Errorf("args = %q, want %s", args(o), want)
					}
				}
				if slices.Contains(args(o), "--log.level=INFO") {
					t.Errorf("args = %q, want one log level", args(o))
				}
			},
		},
		{
			name: "ready timeout and logger change nothing in the manifest",
			opts: []traefik.Option{traefik.WithReadyTimeout(time.Second)},
			check: func(t *testing.T, o *objects) {
				if diff := cmp.Diff(decode(t).order, o.order); diff != "" {
					t.Errorf("objects (-default +got):\n%s", diff)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, decode(t, tt.opts...))
		})
	}
}

func TestManifestRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  traefik.Option
		want string
	}{
		{"namespace", traefik.WithNamespace("Not_A_Label"), `namespace "Not_A_Label"`},
		{"ingress class", traefik.WithIngressClass(""), `ingress class ""`},
		{"image", traefik.WithImage(""), "image is empty"},
		{"node port", traefik.WithNodePort(70000), "node port 70000 is not a port"},
		{"status IP", traefik.WithIngressStatusIP("localhost"), `ingress status IP "localhost" is not an IP address`},
		{"ready timeout", traefik.WithReadyTimeout(0), "ready timeout 0s is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := traefik.Manifest(tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), "traefik manifest: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Manifest() error = %v, want one starting with %q and containing %q", err, "traefik manifest: ", tt.want)
			}
		})
	}
}

// TestRestrictedPodSecurity checks the pod against the restricted Pod Security profile (Kubernetes
// Pod Security Standards), and the Namespace enforces it. The integration test has the API server
// check it too.
func TestRestrictedPodSecurity(t *testing.T) {
	o := decode(t)
	for _, mode := range []string{"enforce", "warn", "audit"} {
		if got := o.namespace.Labels["pod-security.kubernetes.io/"+mode]; got != "restricted" {
			t.Errorf("namespace label pod-security.kubernetes.io/%s = %q, want restricted", mode, got)
		}
	}
	pod := o.deployment.Spec.Template.Spec
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("pod uses host namespaces: network %t, PID %t, IPC %t", pod.HostNetwork, pod.HostPID, pod.HostIPC)
	}
	for _, v := range pod.Volumes {
		if v.EmptyDir == nil && v.ConfigMap == nil && v.Secret == nil && v.Projected == nil {
			t.Errorf("volume %s = %+v, want only volume types the restricted profile allows", v.Name, v.VolumeSource)
		}
	}
	psc := ptr.Deref(pod.SecurityContext, corev1.PodSecurityContext{})
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		sc := ptr.Deref(c.SecurityContext, corev1.SecurityContext{})
		runAsNonRoot := ptr.Deref(sc.RunAsNonRoot, ptr.Deref(psc.RunAsNonRoot, false))
		runAsUser := ptr.Deref(sc.RunAsUser, ptr.Deref(psc.RunAsUser, -1))
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		checks := []struct {
			what string
			ok   bool
		}{
			{"runAsNonRoot true", runAsNonRoot},
			{"runAsUser not 0 (the image's user is root)", runAsUser > 0},
			{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
			{"not privileged", !ptr.Deref(sc.Privileged, false)},
			{"capabilities drop ALL", sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL")},
			{"no capability added", sc.Capabilities == nil || len(sc.Capabilities.Add) == 0},
			{"seccompProfile RuntimeDefault", seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault},
			{"readOnlyRootFilesystem true", ptr.Deref(sc.ReadOnlyRootFilesystem, false)},
		}
		for _, p := range c.Ports {
			checks = append(checks, struct {
				what string
				ok   bool
			}{"no host port (" + p.Name + ")", p.HostPort == 0})
		}
		for _, check := range checks {
			if !check.ok {
				t.Errorf("container %s: want %s; container securityContext %+v, pod securityContext %+v", c.Name, check.what, sc, psc)
			}
		}
	}
}
