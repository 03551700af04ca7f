"""STAND-IN volume driver for kiln's test OpenStack (scripts/openstack.sh).

Not storage: it is Cinder's own test driver cinder.tests.fake_driver.FakeLoggingVolumeDriver
(no LVM, no iSCSI target: this machine has no device-mapper), with the data paths made real
enough for image builds. A volume is a file under the backend's state directory:
- created from an image, it holds the image's bytes (downloaded from Glance);
- uploaded to an image (`os-volume_upload_image`), its bytes go to Glance unchanged, so the
  image becomes `active` as with a real backend;
- deleted, the file goes.
Every API around it (cinder-api, cinder-scheduler, cinder-volume's manager, Nova's volume
attach flow, Glance, Keystone) is the real service.
"""
import os

from oslo_config import cfg

from cinder.tests import fake_driver

CONF = cfg.CONF


class ImageFileDriver(fake_driver.FakeLoggingVolumeDriver):
    VERSION = '1.0.0'

    def _path(self, volume):
        base = os.path.join(CONF.state_path, 'volumes')
        os.makedirs(base, exist_ok=True)
        return os.path.join(base, str(volume['id']))

    def create_volume(self, volume):
        with open(self._path(volume), 'wb'):
            pass
        return super().create_volume(volume)

    def delete_volume(self, volume):
        try:
            os.remove(self._path(volume))
        except FileNotFoundError:
            pass

    def create_cloned_volume(self, volume, src_vol):
        with open(self._path(src_vol), 'rb') as src, open(self._path(volume), 'wb') as dst:
            dst.write(src.read())

    def copy_image_to_volume(self, context, volume, image_service, image_id, disable_sparse=False):
        with open(self._path(volume), 'wb') as f:
            image_service.download(context, image_id, f)

    def copy_image_to_encrypted_volume(self, context, volume, image_service, image_id):
        self.copy_image_to_volume(context, volume, image_service, image_id)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        with open(self._path(volume), 'rb') as f:
            image_service.update(context, image_meta['id'], {}, f)
