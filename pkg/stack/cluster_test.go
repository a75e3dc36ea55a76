package stack

import (
	"strings"
	"testing"

	"github.com/go-logr/logr"
)

// Controller flags reach only a controller on this machine: the providers whose controller runs in
// the cluster refuse them before they make or touch anything, naming the flags and where they can go.
func TestControllerFlagsAreRefusedWhereTheControllerRunsInTheCluster(t *testing.T) {
	for _, name := range Providers() {
		p, err := LookupProvider(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.HostController {
			continue
		}
		t.Run(name, func(t *testing.T) {
			_, err := p.Up(t.Context(), Options{Name: "never-made", ControllerArgs: []string{"--kube-api-qps=7"}, Log: logr.Discard()})
			if err == nil || !strings.Contains(err.Error(), "--kube-api-qps=7") || !strings.Contains(err.Error(), ProviderLocal) {
				t.Errorf("Up with controller flags = %v, want an error naming the flags and provider %s", err, ProviderLocal)
			}
		})
	}
}
