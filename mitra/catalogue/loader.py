"""Loading the catalogue from YAML: departments.yaml and services/*.yaml (any depth).

Several versions of a service may be present (older ones under services/archive/): the
highest enabled version is current; older ones stay loadable so a conversation that started on
them finishes on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mitra.catalogue.schema import CatalogueFile, Department, Service

DATA_DIR = Path(__file__).parent / "data"


class CatalogueError(ValueError):
    """The catalogue files do not validate; the message names file and field."""


@dataclass
class Catalogue:
    departments: list[Department]
    versions: dict[tuple[str, int], Service]
    current: dict[str, Service] = field(init=False)

    def __post_init__(self) -> None:
        latest: dict[str, Service] = {}
        for service in self.versions.values():
            held = latest.get(service.code)
            if held is None or service.version > held.version:
                latest[service.code] = service
        self.current = dict(sorted(latest.items()))

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)

    def services_of(self, department: str) -> list[Service]:
        return [s for s in self.current.values() if s.department == department]

    def service(self, code: str, version: int | None = None) -> Service | None:
        if version is None:
            return self.current.get(code.upper())
        return self.versions.get((code.upper(), version))

    def enabled(self) -> Iterable[Service]:
        return (s for s in self.current.values() if s.enabled)


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _where(exc: ValidationError) -> str:
    return "; ".join(
        ".".join(str(p) for p in err["loc"]) + f": {err['msg']}" for err in exc.errors()[:10]
    )


def load_catalogue(data_dir: Path = DATA_DIR) -> Catalogue:
    try:
        departments = [
            Department.model_validate(d)
            for d in _read(data_dir / "departments.yaml")["departments"]
        ]
    except ValidationError as exc:
        raise CatalogueError(f"departments.yaml: {_where(exc)}") from None
    departments.sort(key=lambda d: d.order)
    codes = {d.code for d in departments}
    versions: dict[tuple[str, int], Service] = {}
    for path in sorted((data_dir / "services").rglob("*.yaml")):
        try:
            parsed = CatalogueFile.model_validate(_read(path))
        except ValidationError as exc:
            raise CatalogueError(f"{path.relative_to(data_dir)}: {_where(exc)}") from None
        for service in parsed.services:
            key = (service.code, service.version)
            if key in versions:
                raise CatalogueError(f"{path.name}: {service.code} version {service.version} twice")
            if service.department not in codes:
                raise CatalogueError(f"{path.name}: {service.code}: unknown department")
            if not service.code.startswith(service.department):
                raise CatalogueError(
                    f"{path.name}: {service.code} is not a {service.department} code"
                )
            versions[key] = service
    return Catalogue(departments, versions)


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue()
