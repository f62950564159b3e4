"""API authentication of cycler PCs by their device token (`Authorization: Token <key>`)."""
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import CyclerDevice


class DevicePrincipal:
    """Stands in for request.user when a cycler PC calls: authenticated, but holds no model permission."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, device: CyclerDevice):
        self.device = device
        self.username = f"device:{device.name}"

    def __str__(self):
        return self.username

    def has_perm(self, perm, obj=None):
        return False

    def has_perms(self, perms, obj=None):
        return False

    def get_all_permissions(self, obj=None):
        return set()


class DeviceTokenAuthentication(authentication.TokenAuthentication):
    """One token scheme for all machines: a user's DRF token, else a cycler device's key.

    Users' tokens are looked up first: the dashboard calls that carry them are most of the API's requests
    and then cost one query; a device's upload every few seconds pays the second one.
    """

    def authenticate_credentials(self, key):
        token = self.get_model().objects.select_related("user").filter(key=key).first()
        if token is not None:
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("User inactive or deleted.")
            return token.user, token
        device = CyclerDevice.objects.filter(key=key).first()
        if device is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not device.is_active:
            raise exceptions.AuthenticationFailed("This cycler device is disabled.")
        now = timezone.now()
        if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
            CyclerDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
        return DevicePrincipal(device), device
