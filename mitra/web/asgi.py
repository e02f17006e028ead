"""Entry point for uvicorn (`mitra serve`): build the app from the environment in each process."""

from __future__ import annotations

from fastapi import FastAPI

from mitra.config import load_settings
from mitra.web.app import create_app


def create_app_from_env() -> FastAPI:
    settings = load_settings()
    fake = None
    if settings.fake_graph:
        from mitra.demo import fake_graph_for

        fake = fake_graph_for(settings)
    return create_app(settings, fake_graph=fake)
