"""The API's pages: tokens (from the profile page) and the team's webhooks (admins)."""

from django.urls import path

from . import web

urlpatterns = [
    path("accounts/tokens/new/", web.token_create, name="api_token_create"),
    path("accounts/tokens/<int:pk>/revoke/", web.token_revoke, name="api_token_revoke"),
    path("team/webhooks/", web.webhook_list, name="webhook_list"),
    path("team/webhooks/<int:pk>/", web.webhook_detail, name="webhook_detail"),
    path("team/webhooks/<int:pk>/rotate/", web.webhook_rotate, name="webhook_rotate"),
    path("team/webhooks/<int:pk>/test/", web.webhook_test, name="webhook_test"),
    path("team/webhooks/<int:pk>/delete/", web.webhook_delete, name="webhook_delete"),
    path("team/webhooks/deliveries/<int:pk>/replay/", web.delivery_replay, name="delivery_replay"),
]
