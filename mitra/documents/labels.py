"""The fixed bilingual words of documents and verdicts, loaded from labels.yaml."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from mitra.documents.model import Bilingual


@functools.lru_cache(maxsize=1)
def labels() -> dict[str, Bilingual]:
    """Every entry of labels.yaml, by key."""
    raw = yaml.safe_load((Path(__file__).parent / "labels.yaml").read_text(encoding="utf-8"))
    return {key: Bilingual(en=value["en"], te=value["te"]) for key, value in raw.items()}


def verdict(reason: str) -> Bilingual:
    """What a verification's reason means, for the person who asked (both languages)."""
    return labels()[f"verdict_{reason}"]
