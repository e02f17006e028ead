"""Fitness of the real catalogue: it lints clean, and every service's example conversations
pass, in every language, against the sandbox department systems over the adapter contract."""

from __future__ import annotations

import pytest

from mitra.catalogue.examples import example_sandbox, run_example
from mitra.catalogue.lint import lint_catalogue
from mitra.catalogue.loader import load_catalogue
from mitra.catalogue.schema import LANGUAGES
from mitra.departments.sandbox_client import sandbox_client
from mitra.jobs.department_calls import client_caller

CATALOGUE = load_catalogue()
EXAMPLES = [
    pytest.param(service, example, id=f"{service.code}-{example.language}-{i}")
    for service in CATALOGUE.current.values()
    for i, example in enumerate(service.examples)
]


def test_the_catalogue_lints_clean() -> None:
    from mitra.catalogue.cli import _operations_of

    assert lint_catalogue(CATALOGUE, operations_of=_operations_of()) == []


def test_every_service_has_examples_in_every_language() -> None:
    for service in CATALOGUE.current.values():
        assert {e.language for e in service.examples} >= set(LANGUAGES), service.code


def test_every_department_is_in_the_navigation() -> None:
    assert [d.code for d in CATALOGUE.departments] == [
        "REV",
        "MUN",
        "ENG",
        "RTC",
        "END",
        "ANC",
        "CMR",
        "GEN",
    ]


@pytest.mark.parametrize(("service", "example"), EXAMPLES)
async def test_example_conversation(service: object, example: object) -> None:
    async with sandbox_client(example_sandbox()) as client:
        outcome = await run_example(service, example, CATALOGUE, client_caller(client))  # type: ignore[arg-type]
    assert outcome.passed, "\n".join([*outcome.failures, "", *outcome.transcript])
