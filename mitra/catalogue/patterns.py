"""Steps a pattern gives every service of its kind, so thirty grievance categories ask the
same questions in the same words and a fix reaches all of them (data/patterns/*.yaml)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PATTERNS = Path(__file__).parent / "data" / "patterns"


@cache
def _grievance_template() -> str:
    return (PATTERNS / "grievance.yaml").read_text(encoding="utf-8")


def grievance_steps(service: dict[str, Any]) -> list[dict[str, Any]]:
    """The grievance steps for a service's raw definition: its code filled in, its own
    question about the problem, and its photo rule."""
    text = _grievance_template().replace("@SERVICE@", str(service.get("code") or ""))
    steps: list[dict[str, Any]] = copy.deepcopy(yaml.safe_load(text)["steps"])
    spec = service.get("grievance") or {}
    for step in steps:
        if step["id"] == "describe" and spec.get("describe"):
            step["prompt"] = spec["describe"]
        if step["id"] == "photos" and spec.get("photos") == "required":
            step["optional"] = False
        if step["id"] == "submit" and service.get("department") == "GEN":
            # GEN-01's "something else": the department the citizen chose takes it.
            step["department"] = "{answers.department}"
    return steps
