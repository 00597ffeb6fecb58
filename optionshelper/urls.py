"""Root URLs: the admin, Django's login/logout at /accounts/, and the portal at the root."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("apps.portal.urls")),
]
