package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

// The Jupyter container's contract, as the Jupyter docker-stacks images define it.
const (
	// JupyterPort is the port the Jupyter server listens on.
	JupyterPort = 8888
	// jupyterUID and jupyterGID are the docker-stacks user jovyan and group users.
	jupyterUID = 1000
	jupyterGID = 100
	// WorkDir is where the lab's volume is mounted.
	WorkDir = "/home/jovyan/work"
	// configFile is the Jupyter Server config the lab's Secret holds, mounted in a folder of its own that
	// JUPYTER_CONFIG_PATH puts on Jupyter's config path: ahead of the image's /etc/jupyter, whose config it
	// adds to rather than hides, and read by every Jupyter Server version (the jupyter_server_config.d
	// folders are read for extensions only by jupyter-server 1.x).
	serverConfigFile   = "jupyter_server_config.json"
	notebookConfigFile = "jupyter_notebook_config.json"
	configMountPath    = "/etc/labkit/jupyter"
	configPathEnv      = "JUPYTER_CONFIG_PATH"
	// tokenEnv is read by Jupyter Server as its token.
	tokenEnv = "JUPYTER_TOKEN"
	// configHashAnnotation restarts the pod when the server config changes.
	configHashAnnotation = "labkit.dev/config-hash"
	// TemplateHashAnnotation, on a lab's Deployment, is the hash of the pod template the controller
	// last applied to it, and RenderedForAnnotation what of the lab it rendered it from (its
	// generation and API token): together they tell a lab whose spec changed from a controller that
	// renders the same spec differently (see holdPodTemplate).
	TemplateHashAnnotation = "labkit.dev/pod-template-hash"
	RenderedForAnnotation  = "labkit.dev/rendered-for"
	portName               = "http"
)

// Names of a lab's children.
func deploymentName(lab *labkitv1alpha1.JupyterLab) string { return lab.Name }
func serviceName(lab *labkitv1alpha1.JupyterLab) string    { return lab.Name }
func pvcName(lab *labkitv1alpha1.JupyterLab) string        { return lab.Name + "-work" }
func secretName(lab *labkitv1alpha1.JupyterLab) string     { return lab.Name + "-jupyter-config" }
func ingressName(lab *labkitv1alpha1.JupyterLab) string    { return lab.Name }

// InternalURL is the in-cluster address of a lab's Jupyter server.
func InternalURL(lab *labkitv1alpha1.JupyterLab) string {
	return "http://" + serviceName(lab) + "." + lab.Namespace + ".svc.cluster.local:8888/"
}

// Host is the lab's host name under the ingress domain: <lab>.<namespace>.<domain>.
func Host(lab *labkitv1alpha1.JupyterLab, s IngressSettings) string {
	return lab.Name + "." + lab.Namespace + "." + s.Domain
}

// ExternalURL is where people open the lab through its Ingress; "" when the settings give no domain.
func ExternalURL(lab *labkitv1alpha1.JupyterLab, s IngressSettings) string {
	if !s.Enabled() {
		return ""
	}
	scheme, port := "http", int32(80)
	if s.TLSSecretName != "" {
		scheme, port = "https", 443
	}
	host := Host(lab, s)
	if s.Port != 0 && s.Port != port {
		host = fmt.Sprintf("%s:%d", host, s.Port)
	}
	return scheme + "://" + host + "/"
}

// selectorLabels select a lab's pods.
func selectorLabels(lab *labkitv1alpha1.JupyterLab) map[string]string {
	return map[string]string{labkitv1alpha1.LabLabel: lab.Name}
}

// commonLabels go on every child of a lab.
func commonLabels(lab *labkitv1alpha1.JupyterLab) map[string]string {
	return map[string]string{
		labkitv1alpha1.LabLabel:        lab.Name,
		labkitv1alpha1.OwnerLabel:      lab.Spec.Owner,
		"app.kubernetes.io/name":       "jupyterlab",
		"app.kubernetes.io/instance":   lab.Name,
		"app.kubernetes.io/managed-by": "labkit",
	}
}

func childMeta(lab *labkitv1alpha1.JupyterLab, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: lab.Namespace, Labels: commonLabels(lab)}
}

// jupyterConfig is the Jupyter config for a lab, as the files of its config Secret. Jupyter Server (which
// JupyterLab, Notebook 7 and `jupyter server` run on) reads jupyter_server_config.json; the classic
// Notebook server (notebook 6, `jupyter notebook` in older images) reads only jupyter_notebook_config.json
// and the NotebookApp names. Password labs get the hash under each server's name for it (ServerApp.password
// for jupyter-server 1.x, PasswordIdentityProvider.hashed_password for 2.x, NotebookApp.password), and
// the controller's own API token (apiToken), with which it reads the server's activity and which no
// person knows; token labs read their token from the environment and so have none in the config.
func jupyterConfig(lab *labkitv1alpha1.JupyterLab, apiToken string) map[string][]byte {
	app := func(rootKey string) map[string]any {
		return map[string]any{
			"ip":                  "0.0.0.0",
			"port":                JupyterPort,
			"open_browser":        false,
			"allow_remote_access": true,
			rootKey:               "/home/jovyan",
		}
	}
	server, notebook := app("root_dir"), app("notebook_dir")
	serverCfg := map[string]any{"ServerApp": server}
	notebookCfg := map[string]any{"NotebookApp": notebook}
	if hash := lab.Spec.Auth.PasswordHash; hash != "" {
		for _, a := range []map[string]any{server, notebook} {
			a["password"] = hash
			a["password_required"] = true
			a["token"] = apiToken
		}
		serverCfg["PasswordIdentityProvider"] = map[string]any{"hashed_password": hash, "password_required": true}
		serverCfg["IdentityProvider"] = map[string]any{"token": apiToken}
	}
	return map[string][]byte{serverConfigFile: marshalConfig(serverCfg), notebookConfigFile: marshalConfig(notebookCfg)}
}

// APITokenKey is the key of the lab's config Secret holding the controller's API token for the lab.
const APITokenKey = "api-token"

// Inputs are what the children of a lab depend on besides the lab itself.
type Inputs struct {
	Settings Settings
	// APIToken is the token the controller reads the lab's activity with (a password lab's server
	// accepts it besides the password); kept in the lab's config Secret.
	APIToken string
	// Stopped scales the lab's Deployment to zero.
	Stopped bool
}

func marshalConfig(cfg map[string]any) []byte {
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil { // maps of strings, bools and ints always marshal
		panic(err)
	}
	return out
}

// configHash changes whenever the lab's Jupyter config does, to restart its pod.
func configHash(cfg map[string][]byte) string {
	h := sha256.New()
	for _, name := range []string{serverConfigFile, notebookConfigFile} {
		h.Write([]byte(name))
		h.Write(cfg[name])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Children are the objects the controller makes for a lab, in the order it applies them: the Jupyter
// config Secret and the volume before the Deployment that mounts them, then the Service, and the
// Ingress when the settings give a domain. They carry no owner reference; the controller adds it.
func Children(lab *labkitv1alpha1.JupyterLab, in Inputs) []client.Object {
	children := []client.Object{desiredSecret(lab, in.APIToken), desiredPVC(lab), desiredDeployment(lab, in), desiredService(lab)}
	if in.Settings.Ingress.Enabled() {
		children = append(children, desiredIngress(lab, in.Settings.Ingress))
	}
	return children
}

// desiredSecret holds the lab's Jupyter Server config.
func desiredSecret(lab *labkitv1alpha1.JupyterLab, apiToken string) *corev1.Secret {
	data := jupyterConfig(lab, apiToken)
	if apiToken != "" {
		data[APITokenKey] = []byte(apiToken)
	}
	return &corev1.Secret{
		ObjectMeta: childMeta(lab, secretName(lab)),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// desiredPVC is the lab's volume.
func desiredPVC(lab *labkitv1alpha1.JupyterLab) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: childMeta(lab, pvcName(lab)),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: lab.Spec.Storage.Size},
			},
		},
	}
	if sc := lab.Spec.Storage.StorageClassName; sc != "" {
		pvc.Spec.StorageClassName = ptr.To(sc)
	}
	return pvc
}

// desiredService exposes the lab's Jupyter server inside the cluster.
func desiredService(lab *labkitv1alpha1.JupyterLab) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: childMeta(lab, serviceName(lab)),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(lab),
			Ports: []corev1.ServicePort{{
				Name:       portName,
				Port:       JupyterPort,
				TargetPort: intstr.FromString(portName),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}

// desiredIngress routes <lab>.<namespace>.<domain> to the lab's Service. Jupyter's kernels talk over
// websockets, which ingress controllers pass on for an ordinary HTTP route.
func desiredIngress(lab *labkitv1alpha1.JupyterLab, s IngressSettings) *networkingv1.Ingress {
	host := Host(lab, s)
	ing := &networkingv1.Ingress{
		ObjectMeta: childMeta(lab, ingressName(lab)),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: serviceName(lab),
							Port: networkingv1.ServiceBackendPort{Name: portName},
						}},
					}},
				}},
			}},
		},
	}
	if s.ClassName != "" {
		ing.Spec.IngressClassName = ptr.To(s.ClassName)
	}
	if s.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: s.TLSSecretName}}
	}
	return ing
}

func replicas(stopped bool) int32 {
	if stopped {
		return 0
	}
	return 1
}

// shmSize is the size of the lab's /dev/shm: spec.shmSize, else a quarter of the memory for a GPU lab
// (PyTorch DataLoader workers pass whole batches through it, and the runtime's 64Mi breaks them), else
// none of labkit's, so the container runtime's.
func shmSize(lab *labkitv1alpha1.JupyterLab) *resource.Quantity {
	switch {
	case lab.Spec.ShmSize != nil:
		q := lab.Spec.ShmSize.DeepCopy()
		return &q
	case lab.GPUCount() > 0:
		return resource.NewQuantity(lab.Spec.Resources.Memory.Value()/4, resource.BinarySI)
	}
	return nil
}

// labEnv is the lab's own environment, in its order.
func labEnv(vars []labkitv1alpha1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(vars))
	for _, v := range vars {
		e := corev1.EnvVar{Name: v.Name, Value: ptr.Deref(v.Value, "")}
		if ref := v.SecretKeyRef; ref != nil {
			e.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key,
			}}
		}
		out = append(out, e)
	}
	return out
}

// desiredDeployment runs the lab's Jupyter server: one replica, replaced (not rolled) so that the
// ReadWriteOnce volume and the GPUs are never claimed twice.
func desiredDeployment(lab *labkitv1alpha1.JupyterLab, in Inputs) *appsv1.Deployment {
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    lab.Spec.Resources.CPU,
			corev1.ResourceMemory: lab.Spec.Resources.Memory,
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:    lab.Spec.Resources.CPU,
			corev1.ResourceMemory: lab.Spec.Resources.Memory,
		},
	}
	pod := corev1.PodSpec{
		EnableServiceLinks:           ptr.To(false),
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](jupyterUID),
			RunAsGroup:     ptr.To[int64](jupyterGID),
			FSGroup:        ptr.To[int64](jupyterGID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:      "jupyter",
			Image:     lab.Spec.Image,
			Ports:     []corev1.ContainerPort{{Name: portName, ContainerPort: JupyterPort, Protocol: corev1.ProtocolTCP}},
			Resources: resources,
			Env:       append([]corev1.EnvVar{{Name: configPathEnv, Value: configMountPath}}, labEnv(lab.Spec.Env)...),
			ReadinessProbe: &corev1.Probe{
				// /api answers without credentials with the server's version.
				ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/api", Port: intstr.FromString(portName)}},
				PeriodSeconds:    2,
				FailureThreshold: 3,
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "work", MountPath: WorkDir},
				{Name: "config", MountPath: configMountPath, ReadOnly: true},
			},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "work", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvcName(lab)},
			}},
			{Name: "config", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: secretName(lab)},
			}},
		},
	}
	c := &pod.Containers[0]
	if size := shmSize(lab); size != nil {
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "dshm", VolumeSource: corev1.VolumeSource{
			// Memory-backed: its pages count in the container's memory limit, which is the lab's memory.
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: size},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "dshm", MountPath: "/dev/shm"})
	}
	for i, v := range lab.Spec.Volumes {
		name := fmt.Sprintf("volume-%d", i)
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.ClaimName, ReadOnly: v.ReadOnly},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: v.MountPath, ReadOnly: v.ReadOnly})
	}
	if ref := lab.Spec.Auth.SecretRef; ref != nil {
		key := ref.Key
		if key == "" {
			key = "token"
		}
		pod.Containers[0].Env = append(pod.Containers[0].Env, corev1.EnvVar{
			Name: tokenEnv,
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
				Key:                  key,
			}},
		})
	}
	if gpus := lab.GPUCount(); gpus > 0 {
		q := *resource.NewQuantity(int64(gpus), resource.DecimalSI)
		pod.Containers[0].Resources.Limits[labkitv1alpha1.GPUResource] = q
		pod.Containers[0].Resources.Requests[labkitv1alpha1.GPUResource] = q
		pod.NodeSelector = map[string]string{labkitv1alpha1.GPUProductLabel: lab.Spec.GPU.Product}
		// Any value and effect of the GPU taint, as the catalog assumes when it fits a request.
		pod.Tolerations = []corev1.Toleration{{Key: labkitv1alpha1.GPUTaintKey, Operator: corev1.TolerationOpExists}}
	}
	if lab.Spec.ImagePullSecret != "" {
		pod.ImagePullSecrets = []corev1.LocalObjectReference{{Name: lab.Spec.ImagePullSecret}}
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      commonLabels(lab),
			Annotations: map[string]string{configHashAnnotation: configHash(jupyterConfig(lab, in.APIToken))},
		},
		Spec: pod,
	}
	d := &appsv1.Deployment{
		ObjectMeta: childMeta(lab, deploymentName(lab)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas(in.Stopped)),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(lab)},
			Template: template,
		},
	}
	d.Annotations = map[string]string{TemplateHashAnnotation: podTemplateHash(&template), RenderedForAnnotation: renderedFor(lab, in.APIToken)}
	return d
}

// podTemplateHash is a hash of a pod template as the controller renders it (the JSON of a Go struct is
// deterministic: fields in order, map keys sorted).
func podTemplateHash(t *corev1.PodTemplateSpec) string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(fmt.Sprintf("encode a pod template: %v", err)) // a PodTemplateSpec always encodes
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// renderedFor names what of the lab a pod template is rendered from: its generation, which every
// change of its spec raises (defaults a newer CRD adds on read do not), and the API token its Jupyter
// config holds. Only a digest of the token, which is a secret.
func renderedFor(lab *labkitv1alpha1.JupyterLab, apiToken string) string {
	sum := sha256.Sum256([]byte(apiToken))
	return fmt.Sprintf("generation %d, token %s", lab.Generation, hex.EncodeToString(sum[:4]))
}
