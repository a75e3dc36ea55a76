package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	labkitv1alpha1 "github.com/labkit-dev/labkit/pkg/apis/labkit/v1alpha1"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// setSettings writes the controller's settings ConfigMap (DefaultSettings, which the suite's manager
// reads) and removes it when the test ends. Tests that call it must not be parallel: the settings
// apply to every lab.
func setSettings(t *testing.T, ctx context.Context, data map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultSettings.Namespace}}
	if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: DefaultSettings.Name, Namespace: DefaultSettings.Namespace}}
	switch err := env.Client.Get(ctx, DefaultSettings, cm); {
	case apierrors.IsNotFound(err):
		cm.Data = data
		create(t, ctx, cm)
		t.Cleanup(func() {
			if err := env.Client.Delete(context.Background(), cm); client.IgnoreNotFound(err) != nil {
				t.Error(err)
			}
		})
	case err != nil:
		t.Fatal(err)
	default:
		cm.Data = data
		if err := env.Client.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
}

func waitForURL(t *testing.T, ctx context.Context, lab *labkitv1alpha1.JupyterLab, want string) {
	t.Helper()
	waitForObject(t, ctx, lab, "status.url "+want, func() string {
		if lab.Status.URL != want {
			return fmt.Sprintf("status.url %q", lab.Status.URL)
		}
		return ""
	})
}

// Not parallel: it changes the settings every lab of the suite reads.
func TestTheSettingsGiveEachLabAnIngressThatIsKeptAsTheyAsk(t *testing.T) {
	ctx, ns := setup(t)
	setSettings(t, ctx, map[string]string{
		SettingIngressDomain: "labs.test", SettingIngressClassName: "traefik",
		SettingIngressTLSSecretName: "wildcard-tls", SettingIngressPort: "8443",
	})
	lab := newLab(ns, "web", 0)
	create(t, ctx, lab)

	host := "web." + ns + ".labs.test"
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	waitForObject(t, ctx, ing, "the lab's Ingress", always)
	assertOwnedBy(t, ing, lab)
	if got := ptr.Deref(ing.Spec.IngressClassName, ""); got != "traefik" {
		t.Errorf("ingressClassName %q, want traefik", got)
	}
	if r := ing.Spec.Rules; len(r) != 1 || r[0].Host != host || r[0].HTTP.Paths[0].Backend.Service.Name != "web" {
		t.Errorf("rules %+v, want %s to the Service web", r, host)
	}
	if tls := ing.Spec.TLS; len(tls) != 1 || tls[0].SecretName != "wildcard-tls" {
		t.Errorf("tls %+v, want the Secret wildcard-tls", tls)
	}
	waitForURL(t, ctx, lab, "https://"+host+":8443/")
	if want := "http://web." + ns + ".svc.cluster.local:8888/"; lab.Status.InternalURL != want {
		t.Errorf("status.internalURL %q, want %q", lab.Status.InternalURL, want)
	}

	// Edited: put back as the lab wants it.
	ing.Spec.Rules[0].Host = "evil.example.com"
	ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "elsewhere"
	if err := env.Client.Update(ctx, ing); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, ing, "the edited Ingress to be restored", func() string {
		if r := ing.Spec.Rules[0]; r.Host != host || r.HTTP.Paths[0].Backend.Service.Name != "web" {
			return fmt.Sprintf("host %s to service %s", r.Host, r.HTTP.Paths[0].Backend.Service.Name)
		}
		return ""
	})
	// Deleted: made again.
	oldUID := ing.UID
	if err := env.Client.Delete(ctx, ing); err != nil {
		t.Fatal(err)
	}
	waitForObject(t, ctx, ing, "the deleted Ingress to be recreated", func() string {
		if ing.UID == oldUID {
			return "still the old Ingress"
		}
		return ""
	})

	// The settings change: every lab follows, and what they no longer ask for goes.
	setSettings(t, ctx, map[string]string{SettingIngressDomain: "other.test"})
	newHost := "web." + ns + ".other.test"
	waitForObject(t, ctx, ing, "the Ingress to follow the new settings", func() string {
		if ing.Spec.Rules[0].Host != newHost || ing.Spec.TLS != nil || ing.Spec.IngressClassName != nil {
			return fmt.Sprintf("host %s, tls %+v, class %v", ing.Spec.Rules[0].Host, ing.Spec.TLS, ing.Spec.IngressClassName)
		}
		return ""
	})
	waitForURL(t, ctx, lab, "http://"+newHost+"/")

	// Bad settings: every lab says so, naming the key, and keeps what it has.
	setSettings(t, ctx, map[string]string{SettingIngressDomain: "other.test", SettingIngressPort: "eighty"})
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionReady, metav1.ConditionFalse, labkitv1alpha1.ReasonReconcileError)
	msg := meta.FindStatusCondition(lab.Status.Conditions, labkitv1alpha1.ConditionReady).Message
	if !strings.Contains(msg, "ConfigMap labkit-system/labkit-settings") || !strings.Contains(msg, `ingress.port "eighty": not a port number`) {
		t.Errorf("Ready message %q does not name the ConfigMap and the bad key", msg)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ing), ing); err != nil {
		t.Errorf("the Ingress is gone while the settings are bad: %v", err)
	}

	// No domain: no Ingress, and the URL is the in-cluster one again.
	setSettings(t, ctx, nil)
	err := testenv.Eventually(ctx, "the Ingress to be deleted", waitTimeout, func(ctx context.Context) (bool, string, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{})
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, "still there", err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitForURL(t, ctx, lab, "http://web."+ns+".svc.cluster.local:8888/")
}

func TestWithoutSettingsALabHasNoIngress(t *testing.T) {
	t.Parallel()
	ctx, ns := setup(t)
	lab := newLab(ns, "plain", 0)
	create(t, ctx, lab)
	// The Service is made in the same pass as the Ingress would be, and before the status.
	waitForCondition(t, ctx, lab, labkitv1alpha1.ConditionScheduled, metav1.ConditionFalse, labkitv1alpha1.ReasonNoPod)
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "plain"}, &networkingv1.Ingress{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("get the lab's Ingress: %v, want not found", err)
	}
	if want := "http://plain." + ns + ".svc.cluster.local:8888/"; lab.Status.URL != want || lab.Status.InternalURL != want {
		t.Errorf("status url %q, internalURL %q; want both %q", lab.Status.URL, lab.Status.InternalURL, want)
	}
}
