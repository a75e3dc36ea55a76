package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/labkit-dev/labkit/pkg/internal/kobj"
	"github.com/labkit-dev/labkit/pkg/match"
)

// FieldOwner is the field manager the controller writes as.
const FieldOwner = "labkit-controller"

// outcome says what ensure did.
type outcome string

const (
	unchanged outcome = ""
	created   outcome = "Created"
	repaired  outcome = "Updated"
)

// ensure makes the live object contain desired. It reads the live object from the cache and writes only
// when a field the controller sets is missing or different, so a lab in its desired state costs no API
// writes. A missing object is created. A drifted one gets desired as a JSON merge patch: maps merge, so
// labels and annotations others add survive, and lists are replaced whole, so an edited or extra port,
// container or volume is put back as the lab wants it. live receives the object as it is afterwards.
func ensure(ctx context.Context, c client.Client, desired, live client.Object) (outcome, error) {
	kind := fmt.Sprintf("%T", desired)[1:] // "v1.Service"
	switch err := c.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, desired, client.FieldOwner(FieldOwner)); err != nil {
			return unchanged, fmt.Errorf("create %s %s: %w", kind, desired.GetName(), err)
		}
		// Create filled desired with what the server stored; hand that to the caller.
		reflect.ValueOf(live).Elem().Set(reflect.ValueOf(desired).Elem())
		return created, nil
	case err != nil:
		return unchanged, fmt.Errorf("get %s %s: %w", kind, desired.GetName(), err)
	}
	want, err := kobj.ToMap(desired)
	if err != nil {
		return unchanged, err
	}
	have, err := kobj.ToMap(live)
	if err != nil {
		return unchanged, err
	}
	if len(match.Contains(want, have, match.Ordered())) == 0 {
		return unchanged, nil
	}
	patch, err := json.Marshal(want)
	if err != nil {
		return unchanged, fmt.Errorf("encode %s %s: %w", kind, desired.GetName(), err)
	}
	if err := c.Patch(ctx, live, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldOwner)); err != nil {
		return unchanged, fmt.Errorf("repair %s %s: %w", kind, desired.GetName(), err)
	}
	return repaired, nil
}
