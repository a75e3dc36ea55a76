package assert_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/labkit-dev/labkit/pkg/harness/assert"
)

// A test waits until a live object holds the fields it expects, and a failed wait says which fields
// differ. Here the object is the Service the API server makes for itself; env.Client is the client of
// the API server this package's TestMain starts (any controller-runtime client will do).
func Example() {
	ctx := context.Background()
	err := assert.Object(ctx, env.Client, []byte(`
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec:
  ports: [{name: https, port: 443}]
`), assert.WithTimeout("wait-api-service", time.Minute))
	fmt.Println(err)

	err = assert.Object(ctx, env.Client, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: kubernetes}\nspec: {type: LoadBalancer}"),
		assert.WithNamespace("default"), assert.WithTimeout("wait-load-balancer", 300*time.Millisecond))
	if err != nil {
		fmt.Println(strings.Join(strings.Split(err.Error(), "\n")[:2], "\n")) // then the live fields that differ
	}
	// Output:
	// <nil>
	// timeout "wait-load-balancer" (300ms) passed: Service default/kubernetes does not match:
	//   spec.type: expected "LoadBalancer", got "ClusterIP"
}
