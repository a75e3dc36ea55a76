package stack

import "testing"

// The line skaffold v2.19 debug printed for the controller pod on kind (make bench-debug's log).
func TestDelvePortReadsSkaffoldsForwardLine(t *testing.T) {
	t.Parallel()
	line := "Port forwarding pod/labkit-controller-5f8646c98-w8dsc in namespace labkit-system, remote port 56268 -> http://127.0.0.1:56268"
	m := DelvePort.FindStringSubmatch(line)
	if m == nil || m[1] != "labkit-controller-5f8646c98-w8dsc" || m[2] != "127.0.0.1:56268" {
		t.Fatalf("DelvePort on %q = %q, want the pod labkit-controller-5f8646c98-w8dsc and 127.0.0.1:56268", line, m)
	}
}
