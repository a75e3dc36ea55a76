package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Well-known names shared by the generator, the controller and the catalog.
const (
	// GPUResource is the extended resource that NVIDIA's device plugin advertises.
	GPUResource = "nvidia.com/gpu"
	// GPUProductLabel names the GPU model of a node (set by GPU feature discovery).
	GPUProductLabel = "nvidia.com/gpu.product"
	// GPUCountLabel is the number of GPUs of a node.
	GPUCountLabel = "nvidia.com/gpu.count"
	// GPUMemoryLabel is the memory of one GPU in MiB.
	GPUMemoryLabel = "nvidia.com/gpu.memory"
	// GPUTaintKey is the taint key GPU nodes carry so that only GPU workloads land there.
	GPUTaintKey = "nvidia.com/gpu"

	// LabLabel is set on every object the controller makes for a lab; its value is the lab's name.
	LabLabel = "labkit.dev/lab"
	// OwnerLabel carries spec.owner on the lab's children, for selection by person.
	OwnerLabel = "labkit.dev/owner"

	// MaxGPUCount is the largest number of GPUs one lab may ask for (one node's worth).
	MaxGPUCount = 16
)

// JupyterLabSpec is what a person asked for.
// +kubebuilder:validation:XValidation:rule="!has(self.gpu) || self.gpu.count == 0 || size(self.gpu.product) > 0",message="gpu.product is required when gpu.count is greater than 0, e.g. NVIDIA-A100-SXM4-40GB"
// +kubebuilder:validation:XValidation:rule="!has(self.shmSize) || quantity(string(self.shmSize)).compareTo(quantity(string(self.resources.memory))) <= 0",message="shmSize is taken from the lab's memory, so it must not be more than resources.memory: ask for more memory or a smaller shmSize"
type JupyterLabSpec struct {
	// Owner is the person the lab belongs to, as a DNS-1123 label (e.g. "ada"). It cannot be changed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="owner is immutable"
	Owner string `json:"owner"`

	// Image is the JupyterLab container image, e.g. quay.io/jupyter/minimal-notebook:python-3.11.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image"`

	// Resources are the CPU and memory the lab gets (requests and limits alike).
	Resources LabResources `json:"resources"`

	// GPU asks for GPUs of one model. Absent or count 0 means a CPU-only lab.
	// +optional
	GPU *GPURequest `json:"gpu,omitempty"`

	// Storage is the lab's persistent volume, mounted at /home/jovyan/work.
	Storage StorageSpec `json:"storage"`

	// Auth says how people log in to the lab.
	Auth AuthSpec `json:"auth"`

	// ImagePullSecret names a Secret in the lab's namespace used to pull Image.
	// +optional
	ImagePullSecret string `json:"imagePullSecret,omitempty"`

	// Env are environment variables of the Jupyter server: plain values, which are in Git for anyone to
	// read, or values from a Secret in the lab's namespace. A name that looks like it holds a secret
	// (PASSWORD, TOKEN, SECRET, KEY, CREDENTIAL) must take its value from a Secret.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Env []EnvVar `json:"env,omitempty"`

	// Stopped scales the lab to zero: its pod goes and its GPUs are free for others; its volume, files
	// and URL stay. `labctl stop` and `labctl start` set and clear it through Git.
	// +optional
	Stopped bool `json:"stopped,omitempty"`

	// StartedAt is when the lab was last started with `labctl start`. A lab the controller stopped for
	// being idle runs again once StartedAt changes.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// IdleTimeout stops the lab when its Jupyter server reports no activity, and no kernel is busy, for
	// this long, e.g. "2h"; "0s" never does. Absent: the controller's setting culling.idleTimeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`

	// ExpiresAt stops the lab at this time, with reason Expired; `labctl extend` moves it.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// ShmSize is the size of /dev/shm, backed by memory and counted in resources.memory: PyTorch's
	// DataLoader workers pass batches through it. Absent: a quarter of the memory for a GPU lab, the
	// container runtime's 64Mi for a lab without GPUs.
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="shmSize must be greater than 0, e.g. \"8Gi\""
	ShmSize *resource.Quantity `json:"shmSize,omitempty"`

	// Volumes are existing volumes (PersistentVolumeClaims of the lab's namespace, such as a shared
	// dataset) mounted into the lab.
	// +optional
	// +listType=map
	// +listMapKey=mountPath
	// +kubebuilder:validation:MaxItems=16
	Volumes []VolumeMount `json:"volumes,omitempty"`
}

// VolumeMount mounts an existing PersistentVolumeClaim into the lab.
// +kubebuilder:validation:XValidation:rule="!(self.mountPath in ['/', '/home/jovyan', '/home/jovyan/work', '/dev/shm', '/tmp']) && !self.mountPath.startsWith('/etc/labkit') && !self.mountPath.startsWith('/dev/') && !self.mountPath.startsWith('/proc') && !self.mountPath.startsWith('/sys')",message="mountPath must not be /, /home/jovyan, the lab's own volume /home/jovyan/work, /tmp, /dev, /proc, /sys or /etc/labkit: choose a folder such as /data/imagenet"
// +kubebuilder:validation:XValidation:rule="!self.mountPath.contains('/../') && !self.mountPath.endsWith('/..') && !self.mountPath.endsWith('/')",message="mountPath must be a clean absolute path, such as /data/imagenet, without '..' or a trailing '/'"
type VolumeMount struct {
	// ClaimName is the PersistentVolumeClaim, in the lab's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ClaimName string `json:"claimName"`
	// MountPath is where it appears in the lab, e.g. /data/imagenet.
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	MountPath string `json:"mountPath"`
	// ReadOnly mounts it read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`
}

// EnvVar is one environment variable of the Jupyter server.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.secretKeyRef)",message="env needs exactly one of value (plain text, kept in Git) or secretKeyRef (a key of a Secret in the lab's namespace)"
// +kubebuilder:validation:XValidation:rule="!has(self.value) || !self.name.matches('(?i)(PASSW(OR)?D|TOKEN|SECRET|(^|_)KEY($|_)|APIKEY|CREDENTIAL)')",message="this env name looks like it holds a secret, and a plain value would be readable by anyone with the Git repository: put it in a Secret in the lab's namespace and use secretKeyRef"
// +kubebuilder:validation:XValidation:rule="!(self.name in ['JUPYTER_CONFIG_PATH', 'JUPYTER_TOKEN'])",message="JUPYTER_CONFIG_PATH and JUPYTER_TOKEN are set by labkit (spec.auth sets the token)"
type EnvVar struct {
	// Name of the variable: letters, digits and '_', not starting with a digit, e.g. DOCKER_STACKS_JUPYTER_CMD.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// Value in plain text.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Value *string `json:"value,omitempty"`
	// SecretKeyRef takes the value from a key of a Secret in the lab's namespace.
	// +optional
	SecretKeyRef *EnvSecretKeyRef `json:"secretKeyRef,omitempty"`
}

// EnvSecretKeyRef is a key of a Secret in the lab's namespace.
type EnvSecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// LabResources are CPU and memory for the lab's container.
type LabResources struct {
	// CPU in cores, e.g. "8" or "500m".
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="cpu must be greater than 0, e.g. \"8\" or \"500m\""
	CPU resource.Quantity `json:"cpu"`
	// Memory, e.g. "32Gi".
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="memory must be greater than 0, e.g. \"32Gi\""
	Memory resource.Quantity `json:"memory"`
}

// GPURequest is a number of GPUs of one model.
type GPURequest struct {
	// Product is the GPU model exactly as in the node label nvidia.com/gpu.product,
	// e.g. NVIDIA-A100-SXM4-40GB.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
	Product string `json:"product,omitempty"`
	// Count is the number of GPUs, 0 to 16.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=16
	Count int32 `json:"count"`
}

// StorageSpec is the lab's persistent volume.
type StorageSpec struct {
	// Size of the volume, e.g. "100Gi". It may grow but never shrink.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="storage size must be greater than 0, e.g. \"100Gi\""
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="storage size may grow but not shrink"
	Size resource.Quantity `json:"size"`
	// StorageClassName is the storage class of the volume; empty means the cluster's default.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storageClassName is immutable"
	StorageClassName string `json:"storageClassName,omitempty"`
}

// AuthSpec holds exactly one way to log in. It never holds a plaintext password.
// +kubebuilder:validation:XValidation:rule="has(self.secretRef) != has(self.passwordHash)",message="auth needs exactly one of secretRef (a Secret holding a token) or passwordHash (an argon2 hash)"
type AuthSpec struct {
	// PasswordHash is a Jupyter Server password hash made with argon2, as printed by
	// jupyter_server.auth.passwd() or `labctl create --password-stdin`:
	// argon2:$argon2id$v=19$m=10240,t=10,p=8$<salt>$<hash>.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^argon2:\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`
	PasswordHash string `json:"passwordHash,omitempty"`
	// SecretRef points at a key of a Secret in the lab's namespace whose value is the Jupyter token.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
}

// SecretKeyRef is a key of a Secret in the same namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret; defaults to "token".
	// +optional
	// +kubebuilder:default=token
	Key string `json:"key,omitempty"`
}

// Phase is a one-word summary of a lab's state.
// +kubebuilder:validation:Enum=Pending;Unschedulable;Starting;Ready;Failed;Stopped
type Phase string

// Phases of a lab.
const (
	PhasePending       Phase = "Pending"
	PhaseUnschedulable Phase = "Unschedulable"
	PhaseStarting      Phase = "Starting"
	PhaseReady         Phase = "Ready"
	PhaseFailed        Phase = "Failed"
	// PhaseStopped: the lab runs no pod (labctl stop, idle, or expired); status.stopped says which.
	PhaseStopped Phase = "Stopped"
)

// Condition types of a lab.
const (
	// ConditionReady is True when the lab's Jupyter server answers its readiness probe.
	ConditionReady = "Ready"
	// ConditionScheduled is True when the lab's pod is bound to a node.
	ConditionScheduled = "Scheduled"
	// ConditionStorageReady is True when the lab's volume is bound.
	ConditionStorageReady = "StorageReady"
	// ConditionVolumesReady is True when every volume of spec.volumes exists; only labs with such
	// volumes have it.
	ConditionVolumesReady = "VolumesReady"
	// ConditionPodCurrent is False while the lab's running pod is not what this controller renders for
	// the lab's spec: a controller upgrade changed how labs run (a new default) and the change waits
	// for the lab's next start rather than restarting it. Only such labs have it.
	ConditionPodCurrent = "PodCurrent"
)

// Condition reasons.
const (
	ReasonPodReady          = "PodReady"
	ReasonPodNotReady       = "PodNotReady"
	ReasonNoPod             = "NoPod"
	ReasonScheduled         = "Scheduled"
	ReasonUnschedulable     = "Unschedulable"
	ReasonSchedulingPending = "SchedulingPending"
	ReasonVolumeBound       = "VolumeBound"
	ReasonVolumePending     = "VolumePending"
	ReasonVolumeResizing    = "VolumeResizing"
	ReasonVolumeLost        = "VolumeLost"
	ReasonReconcileError    = "ReconcileError"
	// Why a lab runs no pod (Ready and Scheduled False, status.stopped.reason).
	ReasonStopped = "Stopped"
	ReasonIdle    = "Idle"
	ReasonExpired = "Expired"
	// VolumesReady.
	ReasonClaimsFound   = "ClaimsFound"
	ReasonClaimNotFound = "ClaimNotFound"
	// PodCurrent.
	ReasonAppliesAtNextStart = "AppliesAtNextStart"
)

// StoppedStatus says why a lab runs no pod, and since when.
type StoppedStatus struct {
	// Reason is Stopped (spec.stopped), Idle (no activity for spec.idleTimeout) or Expired (spec.expiresAt).
	// +kubebuilder:validation:Enum=Stopped;Idle;Expired
	Reason string `json:"reason"`
	// Since is when it stopped.
	Since metav1.Time `json:"since"`
	// StartedAt is spec.startedAt when the controller stopped the lab for being idle: the lab runs again
	// once spec.startedAt differs (labctl start).
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
}

// JupyterLabStatus is what the controller observed.
type JupyterLabStatus struct {
	// Phase summarises the conditions.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Conditions: Ready, Scheduled, StorageReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// NodeName is the node the lab's pod runs on.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// URL is where people open the lab: its Ingress when the controller's settings give a domain,
	// else the in-cluster address (InternalURL).
	// +optional
	URL string `json:"url,omitempty"`
	// InternalURL is the in-cluster address of the lab's Jupyter server, through its Service.
	// +optional
	InternalURL string `json:"internalURL,omitempty"`
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Stopped says why the lab runs no pod, and since when; absent while it runs.
	// +optional
	Stopped *StoppedStatus `json:"stopped,omitempty"`
	// IdleSince is the Jupyter server's last activity, once it has had none for a while (IdleReportAfter),
	// for a lab whose activity the controller watches; absent while it is in use.
	// +optional
	IdleSince *metav1.Time `json:"idleSince,omitempty"`
}

// JupyterLab is one person's JupyterLab server with its CPU, memory, GPUs and volume.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=jl,categories=labkit
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="GPU",type=string,JSONPath=`.spec.gpu.product`
// +kubebuilder:printcolumn:name="GPUs",type=integer,JSONPath=`.spec.gpu.count`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.nodeName`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`,priority=1
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 50",message="metadata.name must be at most 50 characters (the lab's children add suffixes)"
type JupyterLab struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   JupyterLabSpec   `json:"spec"`
	Status JupyterLabStatus `json:"status,omitempty"`
}

// JupyterLabList is a list of JupyterLab.
// +kubebuilder:object:root=true
type JupyterLabList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JupyterLab `json:"items"`
}

func init() {
	SchemeBuilder.Register(&JupyterLab{}, &JupyterLabList{})
}

// GPUCount is the number of GPUs the lab asks for; 0 for a CPU-only lab.
func (l *JupyterLab) GPUCount() int32 {
	if l.Spec.GPU == nil {
		return 0
	}
	return l.Spec.GPU.Count
}
