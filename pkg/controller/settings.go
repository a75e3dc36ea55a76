package controller

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultSettings is the ConfigMap the controller reads its cluster-wide settings from. The install
// manifests ship it without data: a missing key, or a missing ConfigMap, means the default.
var DefaultSettings = types.NamespacedName{Namespace: "labkit-system", Name: "labkit-settings"}

// The keys of the settings ConfigMap.
const (
	// SettingIngressDomain turns on an Ingress for every lab, at <lab>.<namespace>.<domain>.
	SettingIngressDomain = "ingress.domain"
	// SettingIngressClassName is the IngressClass of the labs' Ingresses; empty: the cluster's default class.
	SettingIngressClassName = "ingress.className"
	// SettingIngressTLSSecretName is a Secret in each lab's namespace holding the certificate for its
	// host (a wildcard *.<namespace>.<domain> does for every lab there); set, the URL is https.
	SettingIngressTLSSecretName = "ingress.tlsSecretName"
	// SettingIngressPort is the port people reach the ingress controller on, when it is not the
	// scheme's own (80, or 443 with TLS), e.g. a kind port mapping. It only goes into the URL.
	SettingIngressPort = "ingress.port"
	// SettingCullingIdleTimeout is the idle timeout of labs that set no spec.idleTimeout, e.g. "2h";
	// unset or "0s": such labs are never stopped for being idle.
	SettingCullingIdleTimeout = "culling.idleTimeout"
	// SettingCullingCheckPeriod is how often the controller asks each watched lab's Jupyter server for
	// its activity; DefaultCheckPeriod when unset.
	SettingCullingCheckPeriod = "culling.checkPeriod"
)

// DefaultCheckPeriod is how often a lab's activity is read unless the settings say otherwise.
const DefaultCheckPeriod = time.Minute

var settingKeys = []string{SettingIngressDomain, SettingIngressClassName, SettingIngressTLSSecretName, SettingIngressPort,
	SettingCullingIdleTimeout, SettingCullingCheckPeriod}

// Settings are the controller's cluster-wide settings.
type Settings struct {
	Ingress IngressSettings
	Culling CullingSettings
}

// CullingSettings say when labs are stopped for being idle.
type CullingSettings struct {
	// IdleTimeout applies to labs without spec.idleTimeout; 0: never.
	IdleTimeout time.Duration
	// CheckPeriod is how often activity is read; DefaultCheckPeriod when 0.
	CheckPeriod time.Duration
}

// Period is CheckPeriod, or DefaultCheckPeriod.
func (c CullingSettings) Period() time.Duration {
	if c.CheckPeriod == 0 {
		return DefaultCheckPeriod
	}
	return c.CheckPeriod
}

// IngressSettings say how labs are reached from outside the cluster. Domain empty: no Ingress.
type IngressSettings struct {
	Domain        string
	ClassName     string
	TLSSecretName string
	Port          int32
}

// Enabled says whether labs get an Ingress.
func (s IngressSettings) Enabled() bool { return s.Domain != "" }

// ParseSettings reads the data of the settings ConfigMap. Every problem is reported at once, with the
// key, the value and what would be accepted; unknown keys are refused, so a misspelt one is not
// silently ignored.
func ParseSettings(data map[string]string) (Settings, error) {
	var s Settings
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s %q: %s", key, data[key], fmt.Sprintf(format, args...)))
	}
	for _, k := range sortedKeys(data) {
		if !slices.Contains(settingKeys, k) {
			errs = append(errs, fmt.Sprintf("unknown key %q: the keys are %s", k, strings.Join(settingKeys, ", ")))
		}
	}
	in := &s.Ingress
	in.Domain = strings.TrimSuffix(strings.TrimSpace(data[SettingIngressDomain]), ".")
	if in.Domain != "" {
		if msgs := validation.IsDNS1123Subdomain(in.Domain); len(msgs) > 0 {
			bad(SettingIngressDomain, "not a domain name: use lower-case letters, digits, '-' and '.', such as labs.example.org")
		}
	}
	in.ClassName = strings.TrimSpace(data[SettingIngressClassName])
	if in.ClassName != "" {
		if msgs := validation.IsDNS1123Subdomain(in.ClassName); len(msgs) > 0 {
			bad(SettingIngressClassName, "not an IngressClass name: use lower-case letters, digits, '-' and '.', such as traefik or nginx")
		}
	}
	in.TLSSecretName = strings.TrimSpace(data[SettingIngressTLSSecretName])
	if in.TLSSecretName != "" {
		if msgs := validation.IsDNS1123Subdomain(in.TLSSecretName); len(msgs) > 0 {
			bad(SettingIngressTLSSecretName, "not a Secret name: use lower-case letters, digits, '-' and '.', such as wildcard-tls")
		}
	}
	if v := strings.TrimSpace(data[SettingIngressPort]); v != "" {
		p, err := strconv.ParseInt(v, 10, 32)
		if err != nil || p < 1 || p > 65535 {
			bad(SettingIngressPort, "not a port number: give 1 to 65535, or leave it out for the scheme's own port")
		}
		in.Port = int32(p)
	}
	duration := func(key string, min time.Duration) time.Duration {
		v := strings.TrimSpace(data[key])
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			bad(key, "not a duration of at least %s: give e.g. 90s, 30m or 2h", min)
			return 0
		}
		return d
	}
	s.Culling.IdleTimeout = duration(SettingCullingIdleTimeout, 0)
	s.Culling.CheckPeriod = duration(SettingCullingCheckPeriod, time.Second)
	if !in.Enabled() {
		for _, k := range []string{SettingIngressClassName, SettingIngressTLSSecretName, SettingIngressPort} {
			if data[k] != "" {
				errs = append(errs, fmt.Sprintf("%s is set but %s is not: labs get an Ingress only with a domain", k, SettingIngressDomain))
			}
		}
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return s, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// LoadSettings reads the settings ConfigMap, as the controller does before each reconcile; a missing
// one means the defaults.
func LoadSettings(ctx context.Context, c client.Reader, key types.NamespacedName) (Settings, error) {
	cm := &corev1.ConfigMap{}
	switch err := c.Get(ctx, key, cm); {
	case apierrors.IsNotFound(err):
		return Settings{}, nil
	case err != nil:
		return Settings{}, fmt.Errorf("read the controller's settings, ConfigMap %s: %w", key, err)
	}
	s, err := ParseSettings(cm.Data)
	if err != nil {
		return Settings{}, fmt.Errorf("the controller's settings, ConfigMap %s: %w", key, err)
	}
	return s, nil
}
