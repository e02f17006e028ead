"""The department adapter contract: `openapi.yaml` beside this file is the source of truth."""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

CONTRACT_VERSION = "1.0.0"

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:  # libyaml parses the contract about ten times faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@functools.cache
def _parsed() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    if not isinstance(document, dict):
        raise RuntimeError("the department contract is not a YAML mapping")
    return document


def load_contract() -> dict[str, Any]:
    """The parsed OpenAPI document (a fresh copy: callers may change it freely)."""
    return copy.deepcopy(_parsed())


def contract_view() -> dict[str, Any]:
    """The parsed OpenAPI document, shared and read-only by convention (no copy)."""
    return _parsed()
