"""Websocket routes for live batch progress."""

from django.urls import path

from .consumers import BatchProgressConsumer

websocket_urlpatterns = [
    path("ws/batches/<int:batch_id>/", BatchProgressConsumer.as_asgi()),
]
