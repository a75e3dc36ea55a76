package generator

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labkit-dev/labkit/pkg/catalog"
)

// now is the clock of the tests that need one.
var now = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

func TestParseDurationTakesDaysAndWeeks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "14d", want: 14 * 24 * time.Hour},
		{in: "2w", want: 14 * 24 * time.Hour},
		{in: "36h", want: 36 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: "1w2d3h30m", want: (9*24+3)*time.Hour + 30*time.Minute},
		{in: "90m", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "-1d", want: -24 * time.Hour},
		{in: "14", wantErr: true},
		{in: "d", wantErr: true},
		{in: "two weeks", wantErr: true},
		{in: "1y", wantErr: true},
		{in: "", wantErr: true},
		{in: "1..5d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("= %v, want an error", got)
			case !tt.wantErr && (err != nil || got != tt.want):
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, forValue, until string
		want                  time.Time // zero: no expiry
		wantErr               string
	}{
		{name: "neither"},
		{name: "for days", forValue: "14d", want: now.Add(14 * 24 * time.Hour)},
		{name: "for weeks", forValue: "2w", want: now.Add(14 * 24 * time.Hour)},
		{name: "a date means the end of that day in UTC", until: "2026-12-24", want: time.Date(2026, 12, 24, 23, 59, 59, 0, time.UTC)},
		{name: "today is not over yet", until: "2026-12-01", want: time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)},
		{name: "an RFC 3339 time, in UTC", until: "2026-12-24T18:00:00+01:00", want: time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)},
		{name: "fractions of a second are dropped", until: "2026-12-24T18:00:00.75Z", want: time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)},
		{name: "both", forValue: "14d", until: "2026-12-24", wantErr: "--for 14d and --until 2026-12-24 both say when the lab expires: give one of them"},
		{name: "a past date", until: "2020-01-01", wantErr: "--until 2020-01-01 is in the past"},
		{name: "a past time", until: "2026-12-01T13:59:59Z", wantErr: "--until 2026-12-01T13:59:59Z is in the past"},
		{name: "now is past", until: "2026-12-01T14:00:00Z", wantErr: "is in the past"},
		{name: "not a date", until: "24.12.2026", wantErr: `--until "24.12.2026" is not a date or a time: give a date such as 2026-12-24 (the lab stops at the end of that day, UTC)`},
		{name: "a time without a zone", until: "2026-12-24T18:00:00", wantErr: "is not a date or a time"},
		{name: "not a duration", forValue: "two weeks", wantErr: `--for "two weeks" is not a duration: give e.g. 14d, 36h, 2w or 1h30m (d: days, w: weeks)`},
		{name: "zero", forValue: "0d", wantErr: "--for 0d must be longer than 0"},
		{name: "negative", forValue: "-1d", wantErr: "--for -1d must be longer than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok, err := Expiry(tt.forValue, tt.until, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != !tt.want.IsZero() || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("= %v, %v, %v; want %v", got, ok, err, tt.want)
			}
		})
	}
}

func TestBuildSetsExpiryIdleTimeoutShmAndMounts(t *testing.T) {
	t.Parallel()
	lab, err := Build(request(func(r *Request) {
		r.For, r.IdleTimeout, r.Shm = "14d", "1d", "8Gi"
		r.Mounts = []string{"imagenet:/data/imagenet:ro", "scratch:/scratch", "old:/data/other", "other.v2:/data/other:rw"}
	}), loadCatalog(t), BuildAt(now))
	if err != nil {
		t.Fatal(err)
	}
	s := lab.Spec
	if s.ExpiresAt == nil || !s.ExpiresAt.Time.Equal(now.Add(14*24*time.Hour)) {
		t.Errorf("expiresAt = %v, want 14 days after %v", s.ExpiresAt, now)
	}
	if s.IdleTimeout == nil || s.IdleTimeout.Duration != 24*time.Hour {
		t.Errorf("idleTimeout = %v, want 24h", s.IdleTimeout)
	}
	if s.ShmSize == nil || s.ShmSize.String() != "8Gi" {
		t.Errorf("shmSize = %v, want 8Gi", s.ShmSize)
	}
	if len(s.Volumes) != 3 || s.Volumes[0].ClaimName != "imagenet" || !s.Volumes[0].ReadOnly || s.Volumes[1].ReadOnly ||
		s.Volumes[2].ClaimName != "other.v2" || s.Volumes[2].MountPath != "/data/other" || s.Volumes[2].ReadOnly {
		t.Errorf("volumes = %+v, want imagenet read-only, scratch, and the later mount at /data/other", s.Volumes)
	}

	lab, err = Build(request(func(r *Request) { r.IdleTimeout, r.Shm = "0", "32Gi" }), loadCatalog(t), BuildAt(now))
	if err != nil {
		t.Fatal(err)
	}
	if s := lab.Spec; s.IdleTimeout == nil || s.IdleTimeout.Duration != 0 || s.ExpiresAt != nil || s.Volumes != nil {
		t.Errorf("idle timeout 0 = %v (want 0s: never), expiry %v (want none), volumes %v (want none)", s.IdleTimeout, s.ExpiresAt, s.Volumes)
	}
	lab, err = Build(request(nil), loadCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	if s := lab.Spec; s.IdleTimeout != nil || s.ShmSize != nil || s.ExpiresAt != nil || s.Volumes != nil || s.Stopped || s.StartedAt != nil {
		t.Errorf("a request without them sets %+v", s)
	}
}

func TestBuildRefusesBadLifetimesShmAndMounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Request)
		want []string
	}{
		{"an expiry in the past", func(r *Request) { r.Until = "2020-01-01" }, []string{"--until 2020-01-01 is in the past"}},
		{"both --for and --until", func(r *Request) { r.For, r.Until = "14d", "2026-12-24" }, []string{"give one of them"}},
		{"a duration without a unit", func(r *Request) { r.For = "14" }, []string{`--for "14" is not a duration`}},
		{"a negative idle timeout", func(r *Request) { r.IdleTimeout = "-1h" }, []string{"--idle-timeout -1h is negative: give e.g. 2h, or 0 to never stop the lab"}},
		{"an idle timeout that is no duration", func(r *Request) { r.IdleTimeout = "soon" }, []string{`--idle-timeout "soon" is not a duration`}},
		{"more /dev/shm than memory", func(r *Request) { r.Shm = "64Gi" }, []string{
			"--shm 64Gi is more than --memory 32Gi: /dev/shm is taken from the lab's memory, so ask for more --memory or a smaller --shm"}},
		{"a /dev/shm that is no quantity", func(r *Request) { r.Shm = "lots" }, []string{`--shm "lots" is not a size: give a number and a unit`}},
		{"no /dev/shm", func(r *Request) { r.Shm = "0" }, []string{`--shm 0 must be more than 0`}},
		{"a mount without a path", func(r *Request) { r.Mounts = []string{"imagenet"} }, []string{`--mount "imagenet": give CLAIM:/PATH, e.g. imagenet:/data/imagenet`}},
		{"a mount without a claim", func(r *Request) { r.Mounts = []string{":/data"} }, []string{`--mount ":/data": give CLAIM:/PATH`}},
		{"a claim that is no name", func(r *Request) { r.Mounts = []string{"Data_Sets:/data"} }, []string{`"Data_Sets" is not the name of a volume claim`}},
		{"a relative path", func(r *Request) { r.Mounts = []string{"imagenet:data"} }, []string{`the path "data" is not absolute`}},
		{"a path with ..", func(r *Request) { r.Mounts = []string{"imagenet:/data/../etc"} }, []string{"must be a clean absolute path, such as /data/imagenet, without '..' or a trailing '/'"}},
		{"a trailing slash", func(r *Request) { r.Mounts = []string{"imagenet:/data/"} }, []string{"must be a clean absolute path"}},
		{"over the lab's own volume", func(r *Request) { r.Mounts = []string{"imagenet:/home/jovyan/work"} }, []string{
			"the path must not be /, /home/jovyan, the lab's own volume /home/jovyan/work, /tmp, /dev, /proc, /sys or /etc/labkit: choose a folder such as /data/imagenet"}},
		{"over the home folder", func(r *Request) { r.Mounts = []string{"imagenet:/home/jovyan"} }, []string{"the path must not be /"}},
		{"the root", func(r *Request) { r.Mounts = []string{"imagenet:/"} }, []string{"the path must not be /"}},
		{"under /dev", func(r *Request) { r.Mounts = []string{"imagenet:/dev/shm"} }, []string{"the path must not be /"}},
		{"under /etc/labkit", func(r *Request) { r.Mounts = []string{"imagenet:/etc/labkit/x"} }, []string{"the path must not be /"}},
		{"a bad mode", func(r *Request) { r.Mounts = []string{"imagenet:/data:rx"} }, []string{`"rx" is neither ro (read-only) nor rw (read-write)`}},
		{"too many mounts", func(r *Request) {
			for i := range 17 {
				r.Mounts = append(r.Mounts, "v:/data/"+string(rune('a'+i)))
			}
		}, []string{"17 volumes, but a lab may mount at most 16"}},
		{"every problem at once", func(r *Request) {
			r.Until, r.IdleTimeout, r.Shm, r.Memory = "2020-01-01", "-1h", "lots", "lots"
			r.Mounts = []string{"Bad:data"}
		}, []string{"--until 2020-01-01 is in the past", "--idle-timeout -1h is negative", `--shm "lots" is not a size`,
			`--memory "lots" is not a size`, `"Bad" is not the name of a volume claim`, `the path "data" is not absolute`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab, err := Build(request(tt.mod), loadCatalog(t), BuildAt(now))
			if err == nil {
				t.Fatalf("accepted: %+v", lab.Spec)
			}
			var reqErr *RequestError
			if !errors.As(err, &reqErr) {
				t.Errorf("error is not a RequestError: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestBuildChecksTheCatalogWhateverTheShm(t *testing.T) {
	t.Parallel()
	_, err := Build(request(func(r *Request) { r.GPU, r.Shm = "T4:3", "lots" }), loadCatalog(t), BuildAt(now))
	if !errors.Is(err, catalog.ErrNoFit) || !strings.Contains(err.Error(), `--shm "lots"`) {
		t.Errorf("error = %v, want both the bad --shm and that no node fits", err)
	}
}

func TestSpecFileFieldsIncludeTheLifetimeShmAndMounts(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/ada.yaml"
	writeFile(t, path, "name: ada\nowner: ada\nfor: 14d\nidleTimeout: 2h\nshm: 8Gi\nmounts: [imagenet:/data/imagenet:ro]\n")
	r, err := LoadRequest(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.For != "14d" || r.IdleTimeout != "2h" || r.Shm != "8Gi" || len(r.Mounts) != 1 {
		t.Errorf("spec file read as %+v", r)
	}
	writeFile(t, path, "name: ada\nexpires: 14d\n")
	if _, err := LoadRequest(path); err == nil || !strings.Contains(err.Error(), "for, until, idleTimeout, shm, mounts") {
		t.Errorf("an unknown field: %v, want the list of fields", err)
	}
	// A flag's --for keeps the spec file's until out: they are one setting.
	got := Request{For: "7d"}.WithDefaults(Request{Until: "2026-12-24", IdleTimeout: "2h", Shm: "8Gi"})
	if got.For != "7d" || got.Until != "" || got.IdleTimeout != "2h" || got.Shm != "8Gi" {
		t.Errorf("WithDefaults = %+v", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
