package argocd_test

import (
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/harness/argocd"
)

// TestHealthCheckFromConditions checks the script's text: running it needs a Lua interpreter
// (gopher-lua, as Argo CD uses), which labkit does not depend on.
func TestHealthCheckFromConditionsSuspendsOnTheReasonsGiven(t *testing.T) {
	t.Parallel()
	if s := argocd.HealthCheckFromConditions("Ready", "Stopped", "Idle"); !strings.Contains(s, `local suspended = {["Stopped"] = true, ["Idle"] = true}`) {
		t.Errorf("script does not list the suspended reasons:\n%s", s)
	}
	if s := argocd.HealthCheckFromConditions("Ready"); !strings.Contains(s, "local suspended = {}") {
		t.Errorf("script without suspended reasons:\n%s", s)
	}
}

func TestHealthCheckFromConditions(t *testing.T) {
	t.Parallel()
	common := []string{
		"local hs = {}",
		"if obj.status == nil or obj.status.conditions == nil then",
		`hs.message = "Waiting for status"`,
		"for _, condition in ipairs(obj.status.conditions) do",
		"condition.observedGeneration < obj.metadata.generation",
		"if condition.status == \"True\" then\n      hs.status = \"Healthy\"\n    elseif condition.reason ~= nil and suspended[condition.reason] then\n      hs.status = \"Suspended\"\n    else\n      hs.status = \"Progressing\"",
		"hs.message = condition.message",
		"return hs\n",
	}
	tests := []struct {
		conditionType string
		want          []string
	}{
		{conditionType: "Ready", want: []string{`if condition.type == "Ready" then`, `hs.message = "Waiting for condition Ready"`}},
		{conditionType: "Available", want: []string{`if condition.type == "Available" then`}},
		{
			conditionType: "quote\" backslash\\ newline\n end",
			want:          []string{`if condition.type == "quote\034 backslash\092 newline\010 end" then`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.conditionType, func(t *testing.T) {
			t.Parallel()
			script := argocd.HealthCheckFromConditions(tt.conditionType)
			for _, part := range append(common, tt.want...) {
				if !strings.Contains(script, part) {
					t.Errorf("script does not contain %q:\n%s", part, script)
				}
			}
			if n := strings.Count(script, "\n"); n != strings.Count(argocd.HealthCheckFromConditions("Ready"), "\n") {
				t.Errorf("script has %d lines: the condition type must not add any:\n%s", n, script)
			}
		})
	}
}
