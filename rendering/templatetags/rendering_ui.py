"""Template helpers of the render side: display names of engines, queues and devices."""

from __future__ import annotations

from django import template

from .. import labels

register = template.Library()

register.filter("engine_label", labels.engine_label)
register.filter("queue_label", labels.queue_label)
register.filter("device_label", labels.device_label)
