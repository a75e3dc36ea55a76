package shared_test

import (
	"strings"
	"testing"

	"github.com/labkit-dev/labkit/pkg/internal/gittest"
	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// env is a real API server, for the questions that offer what a cluster has.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) { env = e })
}

// gitEnv keeps the machine's git configuration out of the repositories labctl builds, for this test
// (which therefore cannot be parallel).
func gitEnv(t *testing.T) {
	for _, kv := range gittest.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
