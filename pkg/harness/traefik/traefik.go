package traefik

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// Defaults of the options, and the names of Install's and Uninstall's waits in their errors.
const (
	DefaultImage        = "traefik:v3.6.12"
	DefaultNamespace    = "traefik"
	DefaultIngressClass = "traefik"
	DefaultNodePort     = 30080
	DefaultLogLevel     = "INFO"
	DefaultReadyTimeout = 3 * time.Minute
	ReadyTimeoutName    = "wait-traefik-ready"
	GoneTimeoutName     = "wait-traefik-gone"
)

// ControllerName is the spec.controller of the IngressClasses Traefik's Kubernetes Ingress provider
// serves; it ignores the others.
const ControllerName = "traefik.io/ingress-controller"

// Names of the objects Manifest makes in the install namespace: the Deployment, its ServiceAccount
// and the Service are all called Name.
const (
	Name = "traefik"
	// WebPort is the Service port of the web entry point, which serves the Ingresses.
	WebPort = 80
)

// Ports of the container: the web entry point, and Traefik's own entry point "traefik", which serves
// /ping only (no API, no dashboard) and is not in the Service.
const (
	webContainerPort   = 8000
	adminContainerPort = 8080
	webPortName        = "web"
	adminPortName      = "traefik"
)

// runAsID is the user and group Traefik runs as; the image's default user is root.
const runAsID = 65532

const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// Option configures Manifest, Install and Uninstall.
type Option interface{ apply(*options) }

type options struct {
	namespace    string
	image        string
	ingressClass string
	defaultClass bool
	nodePort     int32
	statusIP     string
	logLevel     string
	accessLog    bool
	readyTimeout time.Duration
	log          logr.Logger
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithNamespace installs Traefik into ns instead of DefaultNamespace. Install creates it; Uninstall
// deletes it. The ClusterRole and ClusterRoleBinding are named after it, so that installs into
// different namespaces (with different ingress classes) do not collide.
func WithNamespace(ns string) Option { return optionFunc(func(o *options) { o.namespace = ns }) }

// WithImage runs another image than DefaultImage. It must be pullable by the nodes or loaded into
// them: the pull policy is IfNotPresent.
func WithImage(image string) Option { return optionFunc(func(o *options) { o.image = image }) }

// WithIngressClass names the IngressClass Install creates and Traefik serves; DefaultIngressClass by
// default. Ingresses select it with spec.ingressClassName.
func WithIngressClass(name string) Option {
	return optionFunc(func(o *options) { o.ingressClass = name })
}

// WithDefaultIngressClass marks the IngressClass as the cluster's default, so that the API server gives
// it to new Ingresses that name no class. At most one class of a cluster should be the default.
func WithDefaultIngressClass() Option { return optionFunc(func(o *options) { o.defaultClass = true }) }

// WithNodePort exposes the web entry point on nodePort of every node; DefaultNodePort by default. It must
// be in the API server's service node port range (30000-32767 unless configured). 0 lets the API server
// choose one. A kind cluster reaches it from the host through an extraPortMappings entry of a node
// with containerPort nodePort.
func WithNodePort(nodePort int32) Option {
	return optionFunc(func(o *options) { o.nodePort = nodePort })
}

// WithIngressStatusIP has Traefik write ip into the status.loadBalancer of each Ingress it serves
// (providers.kubernetesingress.ingressendpoint.ip), and grants it the right to. A test can wait for the
// status to know that Traefik has read an Ingress; its route is up once Traefik has applied the new
// configuration, within a couple of seconds (providers.providersThrottleDuration).
func WithIngressStatusIP(ip string) Option {
	return optionFunc(func(o *options) { o.statusIP = ip })
}

// WithLogLevel sets Traefik's log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC);
// DefaultLogLevel by default.
func WithLogLevel(level string) Option {
	return optionFunc(func(o *options) { o.logLevel = strings.ToUpper(level) })
}

// WithAccessLog has Traefik log every request to its standard output.
func WithAccessLog() Option { return optionFunc(func(o *options) { o.accessLog = true }) }

// WithReadyTimeout bounds Install's wait for Traefik to serve, and Uninstall's wait for its objects to
// be gone; DefaultReadyTimeout by default. The errors name the waits ReadyTimeoutName and
// GoneTimeoutName.
func WithReadyTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.readyTimeout = d })
}

// WithLogger logs progress at V(1); discarded by default.
func WithLogger(l logr.Logger) Option { return optionFunc(func(o *options) { o.log = l }) }

func newOptions(opts []Option) *options {
	o := &options{
		namespace:    DefaultNamespace,
		image:        DefaultImage,
		ingressClass: DefaultIngressClass,
		nodePort:     DefaultNodePort,
		logLevel:     DefaultLogLevel,
		readyTimeout: DefaultReadyTimeout,
		log:          logr.Discard(),
	}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

func (o *options) validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Label(o.namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.namespace, strings.Join(msgs, "; ")))
	}
	if msgs := validation.IsDNS1123Subdomain(o.ingressClass); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("ingress class %q: %s", o.ingressClass, strings.Join(msgs, "; ")))
	}
	if o.image == "" {
		errs = append(errs, errors.New("image is empty"))
	}
	if o.nodePort < 0 || o.nodePort > 65535 {
		errs = append(errs, fmt.Errorf("node port %d is not a port", o.nodePort))
	}
	if o.statusIP != "" && len(validation.IsValidIP(nil, o.statusIP)) > 0 {
		errs = append(errs, fmt.Errorf("ingress status IP %q is not an IP address", o.statusIP))
	}
	if o.readyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s is not positive", o.readyTimeout))
	}
	return errors.Join(errs...)
}

// Manifest returns the YAML stream Install applies: the Namespace (enforcing the restricted Pod
// Security profile), the ServiceAccount, ClusterRole and ClusterRoleBinding of the Kubernetes Ingress
// provider, the IngressClass, the Deployment of one Traefik replica and its NodePort Service.
func Manifest(opts ...Option) ([]byte, error) {
	o := newOptions(opts)
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("traefik manifest: %w", err)
	}
	var out bytes.Buffer
	for _, obj := range o.objects() {
		doc, err := marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("traefik manifest: %w", err)
		}
		out.WriteString("---\n")
		out.Write(doc)
	}
	return out.Bytes(), nil
}

// labels are the labels of every object, and the selector of the pods.
func (o *options) labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": Name, "app.kubernetes.io/instance": o.namespace}
}

// clusterName names the cluster-scoped RBAC objects.
func (o *options) clusterName() string { return Name + "-" + o.namespace }

func (o *options) objects() []runtime.Object {
	meta := func(name, namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: o.labels()}
	}
	nsMeta := meta(o.namespace, "")
	for _, mode := range []string{"enforce", "warn", "audit"} {
		nsMeta.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
	}
	class := &networkingv1.IngressClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: meta(o.ingressClass, ""),
		Spec:       networkingv1.IngressClassSpec{Controller: ControllerName},
	}
	if o.defaultClass {
		class.Annotations = map[string]string{defaultClassAnnotation: "true"}
	}
	return []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: nsMeta},
		&corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: meta(Name, o.namespace),
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: meta(o.clusterName(), ""),
			Rules:      o.rules(),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: meta(o.clusterName(), ""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.clusterName()},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: o.namespace}},
		},
		class,
		o.deployment(meta(Name, o.namespace)),
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(Name, o.namespace),
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: o.labels(),
				Ports: []corev1.ServicePort{{
					Name: webPortName, Protocol: corev1.ProtocolTCP, Port: WebPort,
					TargetPort: intstr.FromString(webPortName), NodePort: o.nodePort,
				}},
			},
		},
	}
}

// rules are what the Kubernetes Ingress provider of Traefik v3.6 reads and writes. It watches
// Ingresses, Services, EndpointSlices and Secrets (TLS certificates) in the watched namespaces (all),
// and IngressClasses and Nodes cluster-wide; it updates Ingress statuses only when given an ingress
// endpoint.
func (o *options) rules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services", "secrets", "nodes"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses"}, Verbs: read},
	}
	if o.statusIP != "" {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}})
	}
	return rules
}

// args are Traefik's static configuration.
func (o *options) args() []string {
	args := []string{
		"--global.checknewversion=false",
		"--global.sendanonymoususage=false",
		fmt.Sprintf("--entrypoints.%s.address=:%d", webPortName, webContainerPort),
		fmt.Sprintf("--entrypoints.%s.address=:%d", adminPortName, adminContainerPort),
		"--ping=true",
		"--ping.entrypoint=" + adminPortName,
		"--providers.kubernetesingress=true",
		"--providers.kubernetesingress.ingressclass=" + o.ingressClass,
		"--log.level=" + o.logLevel,
	}
	if o.statusIP != "" {
		args = append(args, "--providers.kubernetesingress.ingressendpoint.ip="+o.statusIP)
	}
	if o.accessLog {
		args = append(args, "--accesslog=true")
	}
	return args
}

func (o *options) deployment(meta metav1.ObjectMeta) *appsv1.Deployment {
	ping := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ping", Port: intstr.FromString(adminPortName)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   2,
			FailureThreshold: failures,
		}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: o.labels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: o.labels()},
				Spec: corev1.PodSpec{
					ServiceAccountName: Name,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](runAsID),
						RunAsGroup:     ptr.To[int64](runAsID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            Name,
						Image:           o.image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            o.args(),
						Ports: []corev1.ContainerPort{
							{Name: webPortName, ContainerPort: webContainerPort, Protocol: corev1.ProtocolTCP},
							{Name: adminPortName, ContainerPort: adminContainerPort, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: ping(2, 2),
						LivenessProbe:  ping(10, 3),
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
						}},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						// The image declares VOLUME /tmp; the root file system is read-only.
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}

// marshal is obj as YAML without the fields a typed object always has but a manifest should not set:
// status and creation timestamps.
func marshal(obj runtime.Object) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	return yaml.Marshal(m)
}
