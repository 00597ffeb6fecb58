"""The login throttle in the authentication chain (django-axes, SPEC §11).

Every login that arrives over HTTP (the portal's login page, the admin's) passes its request, so
django-axes counts failures per username and client IP and refuses a locked-out pair before the
password is checked. ``authenticate()`` without a request (Django's test client ``login()``, shell
scripts) has no client to throttle; it skips the throttle instead of failing, and the next backend
checks the password as usual.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the throttle counts: ``REMOTE_ADDR``, or behind ``PROXY_COUNT`` trusted reverse
    proxies the entry of ``X-Forwarded-For`` the outermost of them added (entries to its left
    come from the client and can be forged)."""
    count = settings.PROXY_COUNT
    forwarded = [ip.strip() for ip in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [ip for ip in forwarded if ip]
    if count > 0 and len(forwarded) >= count:
        return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


class ThrottledLoginBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs: Any):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
