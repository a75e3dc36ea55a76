package labkitcontroller

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// apiRequest is a request to the API server as its RBAC authorizer sees it.
type apiRequest struct {
	verb  string
	group string
	// resource, with the subresource after a slash: "jupyterlabs/status".
	resource  string
	namespace string
	// name is the object's; for list and watch, the one a metadata.name field selector asks for, which
	// RBAC's resourceNames match as they match a get.
	name string
	// streamed: a watch that begins with the objects there are (sendInitialEvents), which client-go's
	// informers send in place of a list where the server can stream lists.
	streamed bool
}

// parseAPIRequest reads the verb, resource and scope of a request as the API server does
// (k8s.io/apiserver's RequestInfoFactory); false for the non-resource paths (/api, /apis, /version,
// discovery), which every authenticated user may read.
func parseAPIRequest(method string, u *url.URL) (apiRequest, bool) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	var r apiRequest
	switch {
	case len(parts) >= 3 && parts[0] == "api": // /api/v1/...
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis": // /apis/<group>/<version>/...
		r.group, parts = parts[1], parts[3:]
	default:
		return r, false
	}
	if parts[0] == "namespaces" && len(parts) >= 3 {
		r.namespace, parts = parts[1], parts[2:]
	}
	r.resource = parts[0]
	if len(parts) > 1 {
		r.name = parts[1]
	}
	if len(parts) > 2 {
		r.resource += "/" + strings.Join(parts[2:], "/")
	}
	q := u.Query()
	watch, _ := strconv.ParseBool(q.Get("watch"))
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case r.name != "":
			r.verb = "get"
		case watch:
			r.verb = "watch"
		default:
			r.verb = "list"
		}
	case http.MethodPost:
		r.verb = "create"
	case http.MethodPut:
		r.verb = "update"
	case http.MethodPatch:
		r.verb = "patch"
	case http.MethodDelete:
		r.verb = "delete"
		if r.name == "" {
			r.verb = "deletecollection"
		}
	default:
		r.verb = strings.ToLower(method)
	}
	if r.verb == "list" || r.verb == "watch" {
		if sel, err := fields.ParseSelector(q.Get("fieldSelector")); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok {
				r.name = name
			}
		}
		r.streamed = r.verb == "watch" && q.Get("sendInitialEvents") == "true"
	}
	return r, true
}

// qualifiedResource is the resource as kubectl names it: deployments.apps, jupyterlabs.labkit.dev/status.
func qualifiedResource(group, resource string) string {
	if group == "" {
		return resource
	}
	res, sub, ok := strings.Cut(resource, "/")
	if ok {
		return res + "." + group + "/" + sub
	}
	return res + "." + group
}

// String says what the request does: "list secrets in namespace team-a", "get leases.coordination.k8s.io
// labkit-controller.labkit.dev in namespace labkit-system".
func (r apiRequest) String() string {
	s := r.verb + " " + qualifiedResource(r.group, r.resource)
	if r.name != "" {
		s += " " + r.name
	}
	if r.namespace == "" {
		return s + " cluster-wide"
	}
	return s + " in namespace " + r.namespace
}

// requestLog records every request made through the rest.Config it wraps, with the status the API
// server answered.
type requestLog struct {
	mu     sync.Mutex
	counts map[recorded]int
}

type recorded struct {
	apiRequest
	status int
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		if r, ok := parseAPIRequest(req.Method, req.URL); ok {
			l.mu.Lock()
			if l.counts == nil {
				l.counts = map[recorded]int{}
			}
			l.counts[recorded{r, resp.StatusCode}]++
			l.mu.Unlock()
		}
		return resp, nil
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// all returns the requests made, each once, in a stable order.
func (l *requestLog) all() []recorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]recorded, 0, len(l.counts))
	for r := range l.counts {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b recorded) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// refused are the requests the API server refused for want of a permission, each said as what the
// manifests must grant.
func (l *requestLog) refused() []string {
	var out []string
	for _, r := range l.all() {
		if r.status == http.StatusForbidden {
			out = append(out, fmt.Sprintf("the controller needs %s: the manifests must grant it", r.apiRequest))
		}
	}
	return slices.Compact(out)
}

// grant is one verb on one resource that a Role or ClusterRole of the manifests allows.
type grant struct {
	role string // "ClusterRole labkit-controller"
	// namespace is a Role's; a ClusterRole's is empty: it holds wherever it is bound.
	namespace string
	group     string
	resource  string
	verb      string
	names     []string // resourceNames; none: any
}

func (g grant) String() string {
	s := g.verb + " " + qualifiedResource(g.group, g.resource)
	if len(g.names) > 0 {
		s += " " + strings.Join(g.names, ",")
	}
	if g.namespace != "" {
		s += " in namespace " + g.namespace
	}
	return s + " (" + g.role + ")"
}

// allows says whether the grant lets the request through.
func (g grant) allows(r apiRequest) bool {
	return g.verb == r.verb && g.group == r.group && g.resource == r.resource &&
		(g.namespace == "" || g.namespace == r.namespace) &&
		(len(g.names) == 0 || slices.Contains(g.names, r.name))
}

// grantsOf lists what the Roles and ClusterRoles of the objects grant, verb by verb.
func grantsOf(t *testing.T, objs []map[string]any) []grant {
	t.Helper()
	var out []grant
	for _, obj := range objs {
		var rules []rbacv1.PolicyRule
		var role, ns string
		switch obj["kind"] {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &cr); err != nil {
				t.Fatal(err)
			}
			rules, role = cr.Rules, "ClusterRole "+cr.Name
		case "Role":
			var r rbacv1.Role
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &r); err != nil {
				t.Fatal(err)
			}
			rules, role, ns = r.Rules, "Role "+r.Namespace+"/"+r.Name, r.Namespace
		default:
			continue
		}
		for _, rule := range rules {
			if len(rule.NonResourceURLs) > 0 {
				t.Errorf("%s grants non-resource URLs %v: the controller reads none", role, rule.NonResourceURLs)
			}
			for _, group := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, verb := range rule.Verbs {
						if group == "*" || res == "*" || verb == "*" {
							t.Errorf("%s grants %q on %q of group %q: name the verbs and resources the controller uses", role, verb, res, group)
						}
						out = append(out, grant{role: role, namespace: ns, group: group, resource: res, verb: verb, names: rule.ResourceNames})
					}
				}
			}
		}
	}
	return out
}

func TestParseAPIRequestReadsRequestsAsTheAuthorizerDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, url string
		want        string // apiRequest.String(), or "" for a non-resource request
		streamed    bool
	}{
		{"GET", "/api/v1/secrets?labelSelector=labkit.dev%2Flab", "list secrets cluster-wide", false},
		{"GET", "/api/v1/namespaces/team-a/secrets?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan", "watch secrets in namespace team-a", true},
		{"GET", "/api/v1/namespaces/team-a/secrets/ada-token", "get secrets ada-token in namespace team-a", false},
		{"GET", "/api/v1/namespaces/labkit-system/configmaps?fieldSelector=metadata.name%3Dlabkit-settings&watch=1", "watch configmaps labkit-settings in namespace labkit-system", false},
		{"PATCH", "/apis/labkit.dev/v1alpha1/namespaces/team-a/jupyterlabs/ada/status", "patch jupyterlabs.labkit.dev/status ada in namespace team-a", false},
		{"POST", "/apis/events.k8s.io/v1/namespaces/team-a/events", "create events.events.k8s.io in namespace team-a", false},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/labkit-system/leases/labkit-controller.labkit.dev", "update leases.coordination.k8s.io labkit-controller.labkit.dev in namespace labkit-system", false},
		{"DELETE", "/apis/networking.k8s.io/v1/namespaces/team-a/ingresses/ada", "delete ingresses.networking.k8s.io ada in namespace team-a", false},
		{"GET", "/api/v1/namespaces/team-a", "get namespaces team-a cluster-wide", false},
		{"GET", "/apis/labkit.dev/v1alpha1", "", false},
		{"GET", "/api", "", false},
		{"GET", "/version", "", false},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := parseAPIRequest(tc.method, u)
		got := ""
		if ok {
			got = r.String()
		}
		if got != tc.want || r.streamed != tc.streamed {
			t.Errorf("%s %s = %q (streamed %v), want %q (streamed %v)", tc.method, tc.url, got, r.streamed, tc.want, tc.streamed)
		}
	}
}
