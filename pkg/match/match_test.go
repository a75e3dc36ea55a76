package match

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func parse(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestContains(t *testing.T) {
	t.Parallel()
	actual := `
metadata: {name: lab, labels: {a: "1", b: "2"}}
spec:
  replicas: 1
  containers:
  - {name: jupyter, image: j:1, ports: [{containerPort: 8888}]}
  - {name: sidecar, image: s:1}
  tolerations: [{key: x}, {key: y, effect: NoSchedule}]
`
	tests := []struct {
		name     string
		expected string
		ordered  bool
		want     []string // paths of the mismatches, in order
	}{
		{"a subset of maps matches", `metadata: {labels: {a: "1"}}`, false, nil},
		{"numbers match by value whatever their type", `spec: {replicas: 1.0}`, false, nil},
		{"a different scalar is reported with its path", `metadata: {labels: {a: "2"}}`, false, []string{"metadata.labels.a"}},
		{"a missing key is reported", `metadata: {annotations: {x: y}}`, false, []string{"metadata.annotations"}},
		{"lists match in any order", `spec: {containers: [{name: sidecar}, {name: jupyter, ports: [{containerPort: 8888}]}]}`, false, nil},
		{"an element found nowhere is reported", `spec: {containers: [{name: jupyter, image: j:2}]}`, false, []string{"spec.containers[?]"}},
		{"each expected element needs its own actual one", `spec: {tolerations: [{key: x}, {key: x}]}`, false, []string{"spec.tolerations[?]"}},
		{"matching finds a pairing a greedy choice would miss", `spec: {tolerations: [{}, {key: x}]}`, false, nil},
		{"ordered lists must have the same length", `spec: {containers: [{name: jupyter}]}`, true, []string{"spec.containers"}},
		{"ordered lists match by index", `spec: {containers: [{name: sidecar}, {name: jupyter}]}`, true, []string{"spec.containers[0].name", "spec.containers[1].name"}},
		{"a map where a scalar is", `spec: {replicas: {x: 1}}`, false, []string{"spec.replicas"}},
		{"null asks for a key to be absent, and it is", `spec: {nodeSelector: null}`, false, nil},
		{"null asks for a key to be absent, and it is there", `spec: {replicas: null, tolerations: ~}`, false, []string{"spec.replicas", "spec.tolerations"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []Option
			if tt.ordered {
				opts = append(opts, Ordered())
			}
			got := Contains(parse(t, tt.expected), parse(t, actual), opts...)
			var paths []string
			for _, m := range got {
				paths = append(paths, m.Path)
			}
			if strings.Join(paths, " ") != strings.Join(tt.want, " ") {
				t.Errorf("mismatches at %v, want %v:\n%s", paths, tt.want, Report(got))
			}
		})
	}
}

func TestReportIsReadable(t *testing.T) {
	t.Parallel()
	got := Report(Contains(parse(t, `{status: {phase: Ready}, spec: {owner: ada}}`), parse(t, `{status: {phase: Pending}}`)))
	want := "  spec: expected map[owner:ada], but it is missing\n  status.phase: expected \"Ready\", got \"Pending\""
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}
