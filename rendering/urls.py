"""URL routes for batches, renders, the media library and zips."""

from django.urls import path

from .views import batches, dashboard, engines, media

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("batches/estimate.json", batches.batch_estimate, name="batch_estimate"),
    path("batches/", batches.batch_list, name="batch_list"),
    path("batches/new/", batches.batch_create, name="batch_create"),
    path("batches/preview/", batches.batch_preview, name="batch_preview"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/status.json", batches.batch_status, name="batch_status"),
    path("batches/<int:pk>/edit/", batches.batch_edit, name="batch_edit"),
    path("batches/<int:pk>/delete/", batches.batch_delete, name="batch_delete"),
    path("batches/<int:pk>/cancel/", batches.batch_cancel, name="batch_cancel"),
    path("batches/<int:pk>/retry/", batches.batch_retry, name="batch_retry"),
    path("batches/<int:pk>/download.zip", media.batch_zip, name="batch_zip"),
    path("renders/<int:pk>/cancel/", batches.task_cancel, name="task_cancel"),
    path("renders/<int:pk>/retry/", batches.task_retry, name="task_retry"),
    path("media/", media.media_library, name="media_library"),
    path("media/download.zip", media.media_zip, name="media_zip"),
    path("media/bulk/", media.media_bulk, name="media_bulk"),
    path("media/<int:pk>/", media.media_detail, name="media_detail"),
    path("media/<int:pk>/video.mp4", media.media_file, name="media_file"),
    path("media/<int:pk>/download/", media.media_download, name="media_download"),
    path("media/<int:pk>/thumbnail.jpg", media.media_thumbnail, name="media_thumbnail"),
    path("media/<int:pk>/delete/", media.media_delete, name="media_delete"),
    path("engines/", engines.engines_page, name="engines"),
]
