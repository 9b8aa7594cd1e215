"""Root URLs: the library (studio) and rendering apps, Django admin, RQ dashboard (staff only),
language switching."""

from django.contrib import admin
from django.urls import include, path

from studio.views.profile import set_language

urlpatterns = [
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    # Django's set_language, which also keeps a logged-in person's choice on their account.
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("api.urls")),
    path("", include("api.web_urls")),
    path("", include("studio.urls")),
    path("", include("rendering.urls")),
]

# Media files are never served by URL alone, not even with DEBUG: only through the views that
# check the team (studio/views/media.py, presenters, audio).
