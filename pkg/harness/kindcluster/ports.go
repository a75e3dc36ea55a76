package kindcluster

import (
	"bytes"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// setHostPorts rewrites the hostPort of every extraPortMappings entry of the config's first document
// whose containerPort is a key of ports. Every mapped container port must be found; the other
// documents, the comments and the order stay as they are.
func setHostPorts(raw []byte, ports map[int32]int32) ([]byte, error) {
	if len(ports) == 0 {
		return raw, nil
	}
	first, rest, _ := bytes.Cut(raw, []byte("\n---"))
	var doc yaml.Node
	if err := yaml.Unmarshal(first, &doc); err != nil {
		return nil, err
	}
	found := map[int32]bool{}
	for _, node := range seq(field(root(&doc), "nodes")) {
		for _, m := range seq(field(node, "extraPortMappings")) {
			cp, err := strconv.ParseInt(scalar(field(m, "containerPort")), 10, 32)
			if err != nil {
				continue
			}
			hostPort, ok := ports[int32(cp)]
			if !ok {
				continue
			}
			hp := field(m, "hostPort")
			if hp == nil {
				return nil, fmt.Errorf("the extraPortMappings entry of containerPort %d has no hostPort to change", cp)
			}
			hp.Value = strconv.Itoa(int(hostPort))
			found[int32(cp)] = true
		}
	}
	for cp := range ports {
		if !found[cp] {
			return nil, fmt.Errorf("no extraPortMappings entry has containerPort %d", cp)
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	if rest != nil {
		out = append(append(out, []byte("---")...), rest...)
	}
	return out, nil
}

func root(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

func field(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}
