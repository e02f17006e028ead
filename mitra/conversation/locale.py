"""Citizen-facing strings, loaded from locales/<lang>.yaml. Code never holds such strings."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("te", "en")
LANGUAGE_NAMES = {"te": "తెలుగు", "en": "English"}
_DIR = Path(__file__).parent / "locales"


@cache
def strings(language: str) -> dict[str, Any]:
    with (_DIR / f"{language}.yaml").open(encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def t(language: str, key: str, **params: str) -> str:
    text: str = strings(language)[key]
    return text.format(**params) if params else text
