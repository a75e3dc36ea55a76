package shared_test

import (
	"testing"

	"github.com/labkit-dev/labkit/pkg/internal/testenv"
)

// env is a real API server, for the questions that offer what a cluster has.
var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) { env = e })
}
