"""Root URLs: the library (studio) and rendering apps, Django admin, RQ dashboard (staff only),
language switching."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("api.urls")),
    path("", include("api.web_urls")),
    path("", include("studio.urls")),
    path("", include("rendering.urls")),
]

# Media files are never served by URL alone, not even with DEBUG: only through the views that
# check the team (studio/views/media.py, presenters, audio).
