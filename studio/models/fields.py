"""Model fields that store :class:`studio.notices.Notice` values as JSON."""

from __future__ import annotations

from typing import Any

from django.db import models

from ..notices import Notice, notice_list


class NoticeField(models.JSONField):
    """A :class:`~studio.notices.Notice` or None (SQL NULL), stored as its JSON record."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", None)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Notice | None:
        return Notice.from_json(super().from_db_value(value, expression, connection))

    def to_python(self, value: Any) -> Notice | None:
        return Notice.from_json(super().to_python(value))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Notice):
            value = value.to_json()
        return super().get_prep_value(value)

    def value_to_string(self, obj: models.Model) -> Any:
        value = self.value_from_object(obj)
        return value.to_json() if isinstance(value, Notice) else value


class NoticeListField(models.JSONField):
    """A list of :class:`~studio.notices.Notice` (warnings), stored as a JSON list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", list)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[Notice]:
        return notice_list(super().from_db_value(value, expression, connection))

    def to_python(self, value: Any) -> list[Notice]:
        return notice_list(super().to_python(value))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            value = [v.to_json() if isinstance(v, Notice) else v for v in value]
        return super().get_prep_value(value)

    def value_to_string(self, obj: models.Model) -> Any:
        return [n.to_json() for n in self.value_from_object(obj) or []]
