"""Start-up checks of the tasks app's settings (run by `manage.py check`, migrate, runserver).

Settings import no app code, so what needs the signing code to validate is checked here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from signing.target import SigningConfigError, media_target


def check_media_signing(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """linkdist.E001: the media bucket's links cannot be signed as configured."""
    if not settings.S3_CONFIGURED:
        return []
    try:
        media_target(settings)
    except SigningConfigError as error:
        return [Error(str(error), id="linkdist.E001")]
    return []
