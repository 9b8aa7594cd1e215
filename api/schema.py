"""OpenAPI extensions: the bearer token scheme of :class:`api.framework.TokenAuthentication`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from studio.models import Presenter, Upload

#: Names of nested choice classes for ``SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]``.
UploadKind = Upload.Kind
PresenterKind = Presenter.Kind


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token made on your profile page: hgs_...",
        }
