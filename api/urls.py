"""Routes of the public API, mounted at ``/api/v1/`` (namespace ``api``)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("me/", views.MeView.as_view(), name="me"),
    path("projects/", views.ProjectListView.as_view(), name="projects"),
    path("projects/<int:pk>/", views.ProjectDetailView.as_view(), name="project"),
    path("presenters/", views.PresenterListView.as_view(), name="presenters"),
    path("presenters/<int:pk>/", views.PresenterDetailView.as_view(), name="presenter"),
    path(
        "presenters/<int:pk>/recheck/",
        views.PresenterRecheckView.as_view(),
        name="presenter_recheck",
    ),
    path(
        "presenters/<int:pk>/face/",
        views.PresenterFaceView.as_view(),
        name="presenter_face",
    ),
    path(
        "presenters/<int:pk>/archive/",
        views.PresenterArchiveView.as_view(),
        name="presenter_archive",
    ),
    path("audio/", views.AudioListView.as_view(), name="audio_list"),
    path("audio/<int:pk>/", views.AudioDetailView.as_view(), name="audio"),
    path("uploads/", views.UploadCreateView.as_view(), name="uploads"),
    path("uploads/<uuid:pk>/", views.UploadDetailView.as_view(), name="upload"),
    path("uploads/<uuid:pk>/complete/", views.UploadCompleteView.as_view(), name="upload_complete"),
    path("batches/", views.BatchListView.as_view(), name="batches"),
    path("batches/manifest/", views.BatchManifestView.as_view(), name="batch_manifest"),
    path("batches/<int:pk>/", views.BatchDetailView.as_view(), name="batch"),
    path("batches/<int:pk>/cancel/", views.BatchCancelView.as_view(), name="batch_cancel"),
    path("batches/<int:pk>/retry/", views.BatchRetryView.as_view(), name="batch_retry"),
    path("batches/<int:pk>/zip/", views.BatchZipView.as_view(), name="batch_zip"),
    path("results/", views.ResultListView.as_view(), name="results"),
    path("results/<int:pk>/", views.ResultDetailView.as_view(), name="result"),
    path("results/<int:pk>/download/", views.ResultDownloadView.as_view(), name="result_download"),
    path("webhooks/", views.WebhookListView.as_view(), name="webhooks"),
    path(
        "webhooks/<int:pk>/deliveries/",
        views.WebhookDeliveriesView.as_view(),
        name="webhook_deliveries",
    ),
]
