package controller

import (
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

func TestParseSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    map[string]string
		want    IngressSettings
		wantErr []string // each must be in the error
	}{
		{name: "no data: no ingress", data: nil},
		{name: "a domain turns the ingress on", data: map[string]string{"ingress.domain": "labs.example.org."},
			want: IngressSettings{Domain: "labs.example.org"}},
		{name: "every key", data: map[string]string{"ingress.domain": "labs.test", "ingress.className": "traefik",
			"ingress.tlsSecretName": "wildcard-tls", "ingress.port": "8443"},
			want: IngressSettings{Domain: "labs.test", ClassName: "traefik", TLSSecretName: "wildcard-tls", Port: 8443}},
		{name: "bad values are all reported, with what would do",
			data: map[string]string{"ingress.domain": "Labs_Test", "ingress.className": "Traefik!", "ingress.tlsSecretName": "a/b", "ingress.port": "http"},
			wantErr: []string{`ingress.domain "Labs_Test": not a domain name`, `ingress.className "Traefik!": not an IngressClass name`,
				`ingress.tlsSecretName "a/b": not a Secret name`, `ingress.port "http": not a port number: give 1 to 65535`}},
		{name: "a port out of range", data: map[string]string{"ingress.domain": "labs.test", "ingress.port": "70000"},
			wantErr: []string{`ingress.port "70000": not a port number`}},
		{name: "a misspelt key is refused, naming the keys", data: map[string]string{"ingress.domian": "labs.test"},
			wantErr: []string{`unknown key "ingress.domian": the keys are ingress.domain, ingress.className, ingress.tlsSecretName, ingress.port`}},
		{name: "ingress settings without a domain do nothing, so they are refused", data: map[string]string{"ingress.className": "traefik"},
			wantErr: []string{"ingress.className is set but ingress.domain is not"}},
		{name: "culling durations", data: map[string]string{"culling.idleTimeout": "two hours", "culling.checkPeriod": "100ms"},
			wantErr: []string{`culling.idleTimeout "two hours": not a duration of at least 0s: give e.g. 90s, 30m or 2h`,
				`culling.checkPeriod "100ms": not a duration of at least 1s`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSettings(tt.data)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseSettings(%v) = %+v, want an error", tt.data, got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\ndoes not say %q", err, w)
					}
				}
				return
			}
			if err != nil || got.Ingress != tt.want {
				t.Errorf("ParseSettings(%v) = %+v, %v; want %+v", tt.data, got.Ingress, err, tt.want)
			}
		})
	}
}

func TestURLs(t *testing.T) {
	t.Parallel()
	lab := newLab("team-a", "ada", 0)
	tests := []struct {
		settings IngressSettings
		want     string
	}{
		{IngressSettings{}, ""},
		{IngressSettings{Domain: "labs.test"}, "http://ada.team-a.labs.test/"},
		{IngressSettings{Domain: "labs.test", Port: 80}, "http://ada.team-a.labs.test/"},
		{IngressSettings{Domain: "localhost", Port: 38080}, "http://ada.team-a.localhost:38080/"},
		{IngressSettings{Domain: "labs.test", TLSSecretName: "tls"}, "https://ada.team-a.labs.test/"},
		{IngressSettings{Domain: "labs.test", TLSSecretName: "tls", Port: 8443}, "https://ada.team-a.labs.test:8443/"},
	}
	for _, tt := range tests {
		if got := ExternalURL(lab, tt.settings); got != tt.want {
			t.Errorf("ExternalURL(%+v) = %q, want %q", tt.settings, got, tt.want)
		}
	}
	if got, want := InternalURL(lab), "http://ada.team-a.svc.cluster.local:8888/"; got != want {
		t.Errorf("InternalURL = %q, want %q", got, want)
	}
}

func TestDesiredIngressRoutesTheHostToTheLabsService(t *testing.T) {
	t.Parallel()
	lab := newLab("team-a", "ada", 0)
	ing := desiredIngress(lab, IngressSettings{Domain: "labs.test", ClassName: "traefik", TLSSecretName: "wildcard-tls"})
	if ptr.Deref(ing.Spec.IngressClassName, "") != "traefik" {
		t.Errorf("ingressClassName = %v, want traefik", ing.Spec.IngressClassName)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "ada.team-a.labs.test" {
		t.Fatalf("rules = %+v, want one for ada.team-a.labs.test", ing.Spec.Rules)
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	if len(paths) != 1 || paths[0].Path != "/" || *paths[0].PathType != networkingv1.PathTypePrefix ||
		paths[0].Backend.Service.Name != "ada" || paths[0].Backend.Service.Port.Name != "http" {
		t.Errorf("paths = %+v, want / (Prefix) to service ada port http", paths)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "wildcard-tls" || ing.Spec.TLS[0].Hosts[0] != "ada.team-a.labs.test" {
		t.Errorf("tls = %+v, want the host with secret wildcard-tls", ing.Spec.TLS)
	}
	plain := desiredIngress(lab, IngressSettings{Domain: "labs.test"})
	if plain.Spec.IngressClassName != nil || plain.Spec.TLS != nil {
		t.Errorf("without class and TLS settings: class %v, tls %+v; want neither", plain.Spec.IngressClassName, plain.Spec.TLS)
	}
	if n := len(Children(lab, Inputs{})); n != 4 {
		t.Errorf("without settings a lab has %d children, want 4 (no Ingress)", n)
	}
	if c := Children(lab, Inputs{Settings: Settings{Ingress: IngressSettings{Domain: "labs.test"}}}); len(c) != 5 {
		t.Errorf("with a domain a lab has %d children, want 5", len(c))
	} else if _, ok := c[4].(*networkingv1.Ingress); !ok {
		t.Errorf("the fifth child is a %T, want the Ingress", c[4])
	}
}

func TestParseSettingsReadsTheCullingDurations(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings(map[string]string{"culling.idleTimeout": "2h", "culling.checkPeriod": "30s"})
	if err != nil || s.Culling.IdleTimeout != 2*time.Hour || s.Culling.Period() != 30*time.Second {
		t.Errorf("ParseSettings = %+v, %v; want 2h and 30s", s.Culling, err)
	}
	if p := (CullingSettings{}).Period(); p != DefaultCheckPeriod {
		t.Errorf("default period %s, want %s", p, DefaultCheckPeriod)
	}
}
