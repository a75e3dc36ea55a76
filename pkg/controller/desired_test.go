package controller

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
)

func TestDesiredDeploymentPlacesTheLab(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		gpus           int32
		wantSelector   map[string]string
		wantGPU        int64
		wantToleration bool
	}{
		{name: "a GPU lab asks for its GPUs on nodes of its model", gpus: 2,
			wantSelector: map[string]string{labkitv1alpha1.GPUProductLabel: "NVIDIA-A100-SXM4-40GB"}, wantGPU: 2, wantToleration: true},
		{name: "a CPU-only lab asks for no GPU and tolerates no GPU taint", gpus: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := desiredDeployment(newLab("ns", "lab", tt.gpus), Inputs{}).Spec.Template.Spec
			c := pod.Containers[0]
			gpu, has := c.Resources.Limits[labkitv1alpha1.GPUResource]
			if has != (tt.wantGPU > 0) || gpu.Value() != tt.wantGPU {
				t.Errorf("gpu limit = %v (present %v), want %d", gpu.String(), has, tt.wantGPU)
			}
			if len(pod.NodeSelector) != len(tt.wantSelector) || pod.NodeSelector[labkitv1alpha1.GPUProductLabel] != tt.wantSelector[labkitv1alpha1.GPUProductLabel] {
				t.Errorf("nodeSelector = %v, want %v", pod.NodeSelector, tt.wantSelector)
			}
			if got := len(pod.Tolerations) == 1 && pod.Tolerations[0].Key == labkitv1alpha1.GPUTaintKey && pod.Tolerations[0].Operator == corev1.TolerationOpExists && pod.Tolerations[0].Effect == ""; got != tt.wantToleration {
				t.Errorf("tolerations = %+v, want GPU toleration %v", pod.Tolerations, tt.wantToleration)
			}
			if c.Resources.Requests.Cpu().Cmp(*c.Resources.Limits.Cpu()) != 0 || c.Resources.Requests.Memory().Cmp(*c.Resources.Limits.Memory()) != 0 {
				t.Errorf("requests %v != limits %v", c.Resources.Requests, c.Resources.Limits)
			}
		})
	}
}

func TestDesiredDeploymentMeetsTheRestrictedPodSecurityLevel(t *testing.T) {
	t.Parallel()
	pod := desiredDeployment(newLab("ns", "lab", 1), Inputs{}).Spec.Template.Spec
	psc, sc := pod.SecurityContext, pod.Containers[0].SecurityContext
	switch {
	case !ptr.Deref(psc.RunAsNonRoot, false):
		t.Error("pod may run as root")
	case psc.FSGroup == nil:
		t.Error("no fsGroup: the volume would not be writable by the notebook user")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccomp profile is not RuntimeDefault")
	case ptr.Deref(sc.AllowPrivilegeEscalation, true):
		t.Error("privilege escalation allowed")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
		t.Errorf("capabilities = %+v, want drop ALL", sc.Capabilities)
	}
}

func TestJupyterConfigCarriesTheAuthOfTheLab(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		auth      labkitv1alpha1.AuthSpec
		wantHash  bool
		wantToken bool
	}{
		{"a password lab has the hash under every Jupyter server's name for it", labkitv1alpha1.AuthSpec{PasswordHash: testHash}, true, false},
		{"a token lab reads its token from a Secret through the environment", labkitv1alpha1.AuthSpec{SecretRef: &labkitv1alpha1.SecretKeyRef{Name: "tok"}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := newLab("ns", "lab", 0)
			lab.Spec.Auth = tt.auth
			var cfg struct {
				ServerApp                struct{ Password string }
				PasswordIdentityProvider struct {
					HashedPassword string `json:"hashed_password"`
				}
			}
			var classic struct {
				NotebookApp struct {
					Password, Token string
					IP              string `json:"ip"`
				}
			}
			data := desiredSecret(lab, "tok3n").Data
			if err := json.Unmarshal(data[serverConfigFile], &cfg); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data[notebookConfigFile], &classic); err != nil {
				t.Fatal(err)
			}
			if classic.NotebookApp.IP != "0.0.0.0" {
				t.Errorf("the classic Notebook server would listen on %q, want 0.0.0.0", classic.NotebookApp.IP)
			}
			gotHash := cfg.ServerApp.Password == testHash && cfg.PasswordIdentityProvider.HashedPassword == testHash &&
				classic.NotebookApp.Password == testHash
			if gotHash != tt.wantHash {
				t.Errorf("config has the hash in every place: %v, want %v (%+v, %+v)", gotHash, tt.wantHash, cfg, classic)
			}
			env := desiredDeployment(lab, Inputs{}).Spec.Template.Spec.Containers[0].Env
			if len(env) == 0 || env[0].Name != configPathEnv || env[0].Value != configMountPath {
				t.Errorf("env = %+v, want %s=%s first, so Jupyter reads the lab's config", env, configPathEnv, configMountPath)
			}
			gotToken := len(env) == 2 && env[1].Name == tokenEnv && env[1].ValueFrom.SecretKeyRef.Name == "tok" && env[1].ValueFrom.SecretKeyRef.Key == "token"
			if gotToken != tt.wantToken {
				t.Errorf("token env = %+v, want token from secret %v", env, tt.wantToken)
			}
		})
	}
}

func TestAConfigChangeRestartsThePod(t *testing.T) {
	t.Parallel()
	lab := newLab("ns", "lab", 0)
	before := desiredDeployment(lab, Inputs{}).Spec.Template.Annotations[configHashAnnotation]
	lab.Spec.Auth.PasswordHash = "argon2:$argon2id$v=19$m=10240,t=10,p=8$b3RoZXJzYWx0$b3RoZXJoYXNo"
	if after := desiredDeployment(lab, Inputs{}).Spec.Template.Annotations[configHashAnnotation]; before == after {
		t.Errorf("pod template annotation %s did not change with the password (%s)", configHashAnnotation, before)
	}
}

func TestTheLabsEnvironmentReachesTheContainer(t *testing.T) {
	t.Parallel()
	lab := newLab("ns", "lab", 0)
	lab.Spec.Env = []labkitv1alpha1.EnvVar{
		{Name: "DOCKER_STACKS_JUPYTER_CMD", Value: ptr.To("notebook")},
		{Name: "WANDB_API_KEY", SecretKeyRef: &labkitv1alpha1.EnvSecretKeyRef{Name: "wandb", Key: "key"}},
	}
	env := desiredDeployment(lab, Inputs{}).Spec.Template.Spec.Containers[0].Env
	if len(env) != 3 || env[0].Name != configPathEnv {
		t.Fatalf("env = %+v, want labkit's config path, then the lab's two", env)
	}
	if env[1].Name != "DOCKER_STACKS_JUPYTER_CMD" || env[1].Value != "notebook" || env[1].ValueFrom != nil {
		t.Errorf("plain variable = %+v", env[1])
	}
	if r := env[2].ValueFrom; env[2].Name != "WANDB_API_KEY" || env[2].Value != "" || r == nil || r.SecretKeyRef.Name != "wandb" || r.SecretKeyRef.Key != "key" {
		t.Errorf("variable from a Secret = %+v", env[2])
	}
}

func TestShmIsMemoryBackedAndSizedForGPUWork(t *testing.T) {
	t.Parallel()
	shm := func(lab *labkitv1alpha1.JupyterLab) (*corev1.Volume, bool) {
		pod := desiredDeployment(lab, Inputs{}).Spec.Template.Spec
		mounted := slices.ContainsFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/dev/shm" })
		for i := range pod.Volumes {
			if pod.Volumes[i].Name == "dshm" {
				return &pod.Volumes[i], mounted
			}
		}
		return nil, mounted
	}
	gpu := newLab("ns", "gpu", 1) // 4Gi of memory
	v, mounted := shm(gpu)
	if v == nil || !mounted || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit.String() != "1Gi" {
		t.Errorf("a GPU lab's /dev/shm = %+v (mounted %v), want 1Gi of memory, a quarter of its 4Gi", v, mounted)
	}
	gpu.Spec.ShmSize = ptr.To(resource.MustParse("3Gi"))
	if v, _ := shm(gpu); v == nil || v.EmptyDir.SizeLimit.String() != "3Gi" {
		t.Errorf("spec.shmSize 3Gi gave %+v", v)
	}
	if v, mounted := shm(newLab("ns", "cpu", 0)); v != nil || mounted {
		t.Errorf("a CPU lab has a /dev/shm volume of labkit's: %+v", v)
	}
}

func TestAStoppedLabsDeploymentHasNoReplicas(t *testing.T) {
	t.Parallel()
	lab := newLab("ns", "lab", 1)
	running, stopped := desiredDeployment(lab, Inputs{}), desiredDeployment(lab, Inputs{Stopped: true})
	if *running.Spec.Replicas != 1 || *stopped.Spec.Replicas != 0 {
		t.Errorf("replicas running %d, stopped %d; want 1 and 0", *running.Spec.Replicas, *stopped.Spec.Replicas)
	}
	// Same pod template: starting again brings back the same pod, on the same volume.
	if running.Spec.Template.Annotations[configHashAnnotation] != stopped.Spec.Template.Annotations[configHashAnnotation] {
		t.Error("stopping changes the pod template")
	}
}

func TestPodURLIsThePodsOwnAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"IPv4", &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.244.1.7"}}, "http://10.244.1.7:8888/"},
		{"IPv6, bracketed", &corev1.Pod{Status: corev1.PodStatus{PodIP: "fd00:10:244::7"}}, "http://[fd00:10:244::7]:8888/"},
		{"no IP yet", &corev1.Pod{}, ""},
		{"no pod", nil, ""},
	} {
		if got := PodURL(tc.pod); got != tc.want {
			t.Errorf("%s: PodURL() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
