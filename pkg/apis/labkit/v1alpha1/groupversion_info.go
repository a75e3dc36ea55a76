package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the labkit API.
	GroupVersion = schema.GroupVersion{Group: "labkit.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the labkit types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the labkit types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
