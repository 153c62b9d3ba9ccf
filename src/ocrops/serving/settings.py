"""Service settings: the ``serve`` section of params.yaml, overridden by environment variables.

``OCROPS_SERVE_<KEY>`` overrides any key (nested with ``__``: ``OCROPS_SERVE_RATE_LIMIT__RATE=5``);
``MODEL_TIMEOUT`` and ``MAX_QUEUE_SIZE`` are accepted as the usual short names of two of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocrops.config import ServeParams

SHORT_NAMES = {"MODEL_TIMEOUT": "timeout_s", "MAX_QUEUE_SIZE": "max_queue_size"}


class ServeSettings(BaseSettings, ServeParams):
    model_config = SettingsConfigDict(env_prefix="OCROPS_SERVE_", env_nested_delimiter="__", extra="forbid",
                                      frozen=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # the environment of the running service beats the file it was packaged with
        return env_settings, init_settings


def load_settings(params_path: str | Path | None = None) -> ServeSettings:
    """Settings from ``params_path`` (its ``serve`` section; defaults when absent) and the environment."""
    values: dict = {}
    if params_path is not None and Path(params_path).exists():
        values = (yaml.safe_load(Path(params_path).read_text(encoding="utf-8")) or {}).get("serve") or {}
    values = dict(values)
    for env, key in SHORT_NAMES.items():
        if env in os.environ and f"OCROPS_SERVE_{key.upper()}" not in os.environ:
            values[key] = os.environ[env]
    return ServeSettings(**values)


def model_tags(settings: ServeParams) -> list[str]:
    """The BentoML models a Bento holds, one per served registered model (``serve.models``; one when empty):
    ``<bento>-model``, then ``<bento>-model-1``, ... in the order of ``serve.models``."""
    count = max(1, len(settings.models))
    return [f"{settings.bento}-model" + (f"-{k}" if k else "") for k in range(count)]
