package fakenodes

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// VolumeClass is the StorageClass of CreateVolumes' pre-made volumes. Nothing provisions it: the
	// control plane's volume binder binds each claim to a free pre-made volume, at once and in bulk.
	VolumeClass = "fake-volume"
	// VolumeSize is the capacity of each pre-made volume: any claim up to it fits.
	VolumeSize = "1Ti"
)

// volumeClass is VolumeClass, as the cluster's default StorageClass if asDefault.
func volumeClass(asDefault bool) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: VolumeClass},
		Provisioner:       "kubernetes.io/no-provisioner",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimRetain),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
	if asDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	return sc
}

// CreateVolumes creates the StorageClass VolumeClass (the default one if asDefault) and count free
// volumes of it, named <prefix>-0, <prefix>-1, ...; those that exist already are left alone. The
// volumes are never mounted (fake nodes run no containers). A volume released by its claim is not
// reused.
func CreateVolumes(ctx context.Context, c client.Client, prefix string, count int, asDefault bool) error {
	if err := c.Create(ctx, volumeClass(asDefault)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create StorageClass %s: %w", VolumeClass, err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(createParallelism)
	for i := range count {
		g.Go(func() error {
			pv := &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i)},
				Spec: corev1.PersistentVolumeSpec{
					StorageClassName:              VolumeClass,
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(VolumeSize)},
					AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteMany, corev1.ReadOnlyMany},
					PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
					PersistentVolumeSource: corev1.PersistentVolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/fake-volumes/" + prefix},
					},
				},
			}
			if err := c.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create fake volume %s: %w", pv.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}
