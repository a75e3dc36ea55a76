package traefik_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/yaml"

	"github.com/labkit-dev/labkit/pkg/harness/traefik"
)

// A suite installs Traefik into the kind cluster of $KUBECONFIG as its default ingress controller, on
// the node port the kind config maps to the host, and waits until it serves. It needs a cluster that
// runs pods (the API server of this package's tests runs none), so it is not run here.
func Example() {
	ctx := context.Background()
	cfg, err := config.GetConfig()
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	opts := []traefik.Option{traefik.WithNodePort(30080), traefik.WithDefaultIngressClass(),
		traefik.WithIngressStatusIP("127.0.0.1"), traefik.WithReadyTimeout(3 * time.Minute)}
	if err := traefik.Install(ctx, c, opts...); err != nil {
		log.Fatal(err) // names the wait, traefik.ReadyTimeoutName, and what is not ready
	}
	// ... labs' Ingresses answer on http://<host>.localhost:<host port>/ ...
	if err := traefik.Uninstall(ctx, c, opts...); err != nil {
		log.Fatal(err)
	}
}

// Manifest is what Install applies, for a person to read or for another tool to apply.
func ExampleManifest() {
	stream, err := traefik.Manifest(traefik.WithNamespace("ingress"), traefik.WithIngressClass("labs"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, doc := range strings.Split(string(stream), "---\n")[1:] {
		var obj metav1.PartialObjectMetadata
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(obj.Kind, strings.TrimPrefix(obj.Namespace+"/"+obj.Name, "/"))
	}
	// Output:
	// Namespace ingress
	// ServiceAccount ingress/traefik
	// ClusterRole traefik-ingress
	// ClusterRoleBinding traefik-ingress
	// IngressClass labs
	// Deployment ingress/traefik
	// Service ingress/traefik
}
