package fakenodes_test

import (
	"fmt"

	"github.com/labkit-dev/labkit/pkg/harness/fakenodes"
)

// A scale run reads the kind config of cluster "labkit" with its FakeNodePools document, picks pools
// by name, and sizes them before fakenodes.Create makes their nodes.
func Example() {
	cfg, err := fakenodes.LoadFile("../../../kind-config.yaml", "labkit")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range cfg.Workers {
		fmt.Println("kind worker", w.NodeNames()[0], "GPUs:", w.GPUs())
	}
	pools, err := cfg.SelectPools("fake-h100", "fake-cpu")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pools {
		names := p.NodeNames()
		fmt.Println("pool", p.Name, names[0], "to", names[len(names)-1], "GPUs each:", p.GPUs())
	}
	nodes, gpus := fakenodes.Size(pools...)
	fmt.Println(nodes, "nodes,", gpus, "GPUs")
	_, err = cfg.SelectPools("fake-t4")
	fmt.Println(err)
	// Output:
	// kind worker labkit-worker GPUs: 4
	// kind worker labkit-worker2 GPUs: 2
	// kind worker labkit-worker3 GPUs: 0
	// pool fake-h100 fake-h100-0 to fake-h100-199 GPUs each: 8
	// pool fake-cpu fake-cpu-0 to fake-cpu-49 GPUs each: 0
	// 250 nodes, 1600 GPUs
	// no fake node pool "fake-t4"; declared: fake-h100, fake-a100, fake-cpu
}
