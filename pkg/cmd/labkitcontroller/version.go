package labkitcontroller

// version names the build in the controller's first log line; release builds set it with
// -ldflags "-X github.com/labkit-dev/labkit/pkg/cmd/labkitcontroller.version=v0.1.0".
var version = "dev"
