package kindcluster

import (
	"strings"
	"testing"
)

func TestSetHostPortsChangesOnlyTheMappingAsked(t *testing.T) {
	t.Parallel()
	raw := []byte(`# the e2e cluster
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - {containerPort: 30080, hostPort: 38080, listenAddress: 127.0.0.1}
  - {containerPort: 30443, hostPort: 38443}
- role: worker
---
kind: FakeNodePools
pools: []
`)
	out, err := setHostPorts(raw, map[int32]int32{30080: 38090})
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"hostPort: 38090", "hostPort: 38443", "# the e2e cluster", "\n---\nkind: FakeNodePools\npools: []\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("rewritten config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "38080") {
		t.Errorf("the old host port is still there:\n%s", got)
	}
	if _, err := setHostPorts(raw, map[int32]int32{31000: 1}); err == nil || !strings.Contains(err.Error(), "no extraPortMappings entry has containerPort 31000") {
		t.Errorf("a container port the config does not map: %v", err)
	}
	if same, _ := setHostPorts(raw, nil); string(same) != string(raw) {
		t.Error("no ports to change changed the config")
	}
}
