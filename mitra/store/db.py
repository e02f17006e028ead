"""Connections: a SQLAlchemy engine for migrations and admin work, psycopg pools for hot paths."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, create_engine

from mitra.config import Settings


def sqlalchemy_engine(settings: Settings) -> Engine:
    return create_engine(settings.sqlalchemy_url, pool_pre_ping=True)


def connect(settings: Settings, **kwargs: Any) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(settings.libpq_url, row_factory=dict_row, **kwargs)


async def async_pool(
    settings: Settings, *, min_size: int = 1, max_size: int = 8
) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = AsyncConnectionPool(
        settings.libpq_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": False},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool
