package kobj

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// ToMap converts a typed object to its JSON form without the nulls and empty maps that typed zero
// values produce (creationTimestamp: null, status: {}). Those would never match a live object, would
// clear fields in a merge patch, and are noise in a rendered file.
func ToMap(obj any) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", obj, err)
	}
	prune(m)
	return m, nil
}

func prune(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(t)
			if len(t) == 0 {
				delete(m, k)
			}
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}
