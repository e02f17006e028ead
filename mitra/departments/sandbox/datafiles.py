"""The sandbox's YAML data files (in `data/`), parsed once."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@functools.cache
def load(name: str) -> dict[str, Any]:
    """`load("geography")` → the parsed `data/geography.yaml` (shared: do not modify)."""
    text = resources.files(__package__).joinpath("data", f"{name}.yaml").read_text("utf-8")
    data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    if not isinstance(data, dict):
        raise RuntimeError(f"sandbox data file {name}.yaml is not a mapping")
    return data
