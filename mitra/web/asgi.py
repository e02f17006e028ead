"""Entry point for uvicorn (`mitra serve`): build the app from the environment in each process."""

from __future__ import annotations

from mitra.config import load_settings
from mitra.web.app import WebhookFastPath, create_web


def create_app_from_env() -> WebhookFastPath:
    settings = load_settings()
    fake = None
    if settings.fake_graph:
        from mitra.demo import fake_graph_for

        fake = fake_graph_for(settings)
    return create_web(settings, fake_graph=fake).asgi
