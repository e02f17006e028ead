"""The registry of approved WhatsApp templates, and the fake Graph API that holds Mitra to it.

A case changes while the citizen has been silent for days: Mitra may only send an approved
template, in the citizen's language, with exactly its parameters. The registry builds it;
the fake Graph API (like Meta) refuses anything else.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import yaml

from mitra.whatsapp import messages as wa
from mitra.whatsapp.errors import ErrorAction
from mitra.whatsapp.fake_graph import FakeGraph, FakeGraphConfig, create_fake_graph_app
from mitra.whatsapp.graph import GraphClient, GraphError
from mitra.whatsapp.messages import LimitExceeded
from mitra.whatsapp.templates import (
    LANGUAGES,
    TEMPLATE_PARAMETER,
    TemplateError,
    TemplateRegistry,
    load_registry,
    parse_registry,
)
from tests.identity.ekyc_helpers import serving

REGISTRY = load_registry()
RAVI = "919876543210"
PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAG-fake-token-templates"

SAMPLES = {
    "reference": "REV-2026-000123-K",
    "service": "Income certificate",
    "status": "Approved by the Tahsildar",
    "next_step": "Collect it at the MRO office, Guntur",
    "information_needed": "a copy of your ration card",
    "document": "Income certificate",
}
TELUGU = re.compile(r"[\u0c00-\u0c7f]")


def sample_params(name: str) -> dict[str, str]:
    return {p: SAMPLES[p] for p in REGISTRY.template(name).parameters}


EVERY_TEMPLATE = [(t.name, language) for t in REGISTRY for language in LANGUAGES]


# ---- the registry ---------------------------------------------------------------------------


def test_the_templates_mitra_needs_are_registered_as_utility() -> None:
    assert REGISTRY.names() == {
        "case_status_update",
        "case_returned_for_information",
        "document_issued",
    }
    assert {t.category for t in REGISTRY} == {"utility"}
    assert REGISTRY.template("case_status_update").parameters == (
        "reference",
        "service",
        "status",
        "next_step",
    )
    assert REGISTRY.template("document_issued").parameters == ("document", "reference")


@pytest.mark.parametrize(("name", "language"), EVERY_TEMPLATE)
def test_every_template_builds_a_valid_message_in_both_languages(name: str, language: str) -> None:
    params = sample_params(name)
    message = REGISTRY.build(name, language, params)

    assert message.kind == "template"
    assert message.payload == {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": params[p]}
                        for p in REGISTRY.template(name).parameters
                    ],
                }
            ],
        },
    }
    wa.validate(wa.request_body(message, to=RAVI))


@pytest.mark.parametrize(("name", "language"), EVERY_TEMPLATE)
def test_the_citizen_reads_every_value_in_its_place(name: str, language: str) -> None:
    params = sample_params(name)
    text = REGISTRY.render_text(name, language, params)

    assert "{{" not in text
    for value in params.values():
        assert value in text
    assert bool(TELUGU.search(text)) == (language == "te")


def test_a_telugu_translation_may_put_the_parameters_in_its_own_order() -> None:
    params = sample_params("case_status_update")
    assert REGISTRY.render_text("case_status_update", "te", params).startswith(
        "మీ Income certificate దరఖాస్తు (సంఖ్య REV-2026-000123-K) స్థితి ఇప్పుడు: "
    )
    # …while the payload keeps Meta's order: {{1}} is the reference in every language.
    payload = REGISTRY.build("case_status_update", "te", params).payload
    assert payload["template"]["components"][0]["parameters"][0]["text"] == "REV-2026-000123-K"


def test_document_issued_reads_as_approved() -> None:
    params = {"document": "Income certificate", "reference": "REV-2026-000123-K"}
    assert REGISTRY.render_text("document_issued", "en", params) == (
        'Your Income certificate (reference REV-2026-000123-K) has been issued. Reply "Hi" '
        'and choose "My documents" to get it.'
    )
    assert REGISTRY.render_text("document_issued", "te", params).endswith(
        'జారీ అయింది. దాన్ని పొందడానికి "Hi" అని పంపి "నా పత్రాలు" ఎంచుకోండి.'
    )


BAD_PARAMS: dict[str, tuple[dict[str, Any], str]] = {
    "missing": ({"document": "Income certificate"}, "missing reference"),
    "extra": (
        {"document": "Income certificate", "reference": "R-1", "name": "Ravi"},
        "unexpected name",
    ),
    "empty": ({"document": " ", "reference": "R-1"}, "document is empty"),
    "new-line": ({"document": "Income\ncertificate", "reference": "R-1"}, "new-line"),
    "carriage return": ({"document": "Income\rcertificate", "reference": "R-1"}, "new-line"),
    "tab": ({"document": "Income\tcertificate", "reference": "R-1"}, "tab"),
    "five spaces": ({"document": "Income     certificate", "reference": "R-1"}, "spaces"),
    "too long": (
        {"document": "x" * (TEMPLATE_PARAMETER + 1), "reference": "R-1"},
        f"limit {TEMPLATE_PARAMETER}",
    ),
    "not text": ({"document": 42, "reference": "R-1"}, "must be a string"),
}


@pytest.mark.parametrize("case", BAD_PARAMS)
def test_parameters_that_do_not_fit_are_refused(case: str) -> None:
    params, problem = BAD_PARAMS[case]
    for build in (REGISTRY.build, REGISTRY.render_text):
        with pytest.raises(ValueError, match=problem):
            build("document_issued", "en", params)


def test_four_spaces_in_a_row_are_still_fine() -> None:
    REGISTRY.build("document_issued", "en", {"document": "Income    certificate", "reference": "R"})


def test_an_error_never_quotes_a_value() -> None:
    with pytest.raises(LimitExceeded) as refused:
        REGISTRY.build("document_issued", "en", {"document": "Ravi\nKumar", "reference": "R-1"})
    assert "Ravi" not in str(refused.value)


def test_an_unknown_template_or_language_is_refused() -> None:
    with pytest.raises(TemplateError, match="no approved template"):
        REGISTRY.build("appointment_reminder", "en", {})
    with pytest.raises(TemplateError, match="not approved in language 'hi'"):
        REGISTRY.build("document_issued", "hi", sample_params("document_issued"))


def registry_with(body_en: str, body_te: str | None = None, **spec: Any) -> TemplateRegistry:
    template = {
        "category": "utility",
        "parameters": ["reference", "status"],
        "languages": {"en": body_en, "te": body_te if body_te is not None else body_en},
    } | spec
    return parse_registry({"templates": {"case_update": template}})


REFUSED_BODIES = {
    # The first draft of case_status_update, which Meta would reject: it ends with {{4}}.
    "ends with a parameter": ("Your application {{1}} is now: {{2}}", "start or end"),
    "ends with a parameter and a full stop": ("Your application {{1}} is now: {{2}}.", "end"),
    "starts with a parameter": ("{{1}} is the status of your application {{2}} now", "start"),
    "parameters side by side": ("Your application {{1}} ({{2}}) has moved on, see", "no word"),
    "a parameter missing": ("Your application {{1}} has moved on, see the office", "{{2}}"),
    "a gap": ("Your application {{1}} is now {{3}} at the office today", "{{1}}…{{2}} once"),
    "twice": ("Your application {{1}} is {{2}} and {{2}} at the office", "once"),
    "a malformed placeholder": ("Your application {{1}} is {{ 2 }} at the office", "{{2}}"),
    "too few words": ("Hi {{1}}, now {{2}} ok", "too many parameters"),
    "too long": ("Your application {{1}} is now {{2}} at the office. " + "x" * 1024, "limit"),
    "a tab": ("Your application {{1}}\tis now {{2}} at the office today", "tabs"),
}


@pytest.mark.parametrize("case", REFUSED_BODIES)
def test_a_registry_breaking_metas_rules_does_not_load(case: str) -> None:
    body, problem = REFUSED_BODIES[case]
    with pytest.raises(TemplateError, match=re.escape(problem)):
        registry_with(body)


def test_a_registry_without_telugu_or_with_a_wrong_category_does_not_load() -> None:
    good = "Your application {{1}} is now {{2}} at the office today."
    registry_with(good)
    with pytest.raises(TemplateError, match="exactly en, te"):
        registry_with(good, languages={"en": good})
    with pytest.raises(TemplateError, match="category"):
        registry_with(good, category="transactional")
    with pytest.raises(TemplateError, match="distinct"):
        registry_with(good, parameters=["reference", "reference"])
    with pytest.raises(TemplateError, match="a-z, 0-9"):
        parse_registry({"templates": {"Case-Update": {}}})


def test_the_registry_file_ships_as_package_data() -> None:
    from importlib import resources

    text = resources.files("mitra.whatsapp").joinpath("data", "templates.yaml").read_text("utf-8")
    assert set(yaml.safe_load(text)["templates"]) == REGISTRY.names()


# ---- the fake Graph API holds Mitra to the registry, over real HTTP --------------------------


def config(**overrides: Any) -> FakeGraphConfig:
    return FakeGraphConfig(
        phone_number_id=PHONE_NUMBER_ID,
        access_token=TOKEN,
        app_secret="fake-app-secret",
        webhook_url=None,
        **overrides,
    )


def test_the_fake_checks_against_the_registry_by_default() -> None:
    assert config().templates is REGISTRY


@pytest.fixture(scope="module")
def served_fake() -> Iterator[tuple[FakeGraph, str]]:
    fake = create_fake_graph_app(config())
    with serving(fake.app) as url:
        yield fake, url
    asyncio.run(fake.aclose())


@pytest.fixture
async def graph(served_fake: tuple[FakeGraph, str]) -> AsyncIterator[GraphClient]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield GraphClient(served_fake[1], TOKEN, PHONE_NUMBER_ID, http)


async def refusal(graph: GraphClient, message: wa.OutboundMessage) -> GraphError:
    with pytest.raises(GraphError) as refused:
        await graph.send(wa.request_body(message, to=RAVI))
    assert refused.value.action is ErrorAction.BAD_REQUEST  # never retried; the operator is told
    return refused.value


@pytest.mark.parametrize(("name", "language"), EVERY_TEMPLATE)
async def test_the_fake_accepts_every_registered_template(
    graph: GraphClient, served_fake: tuple[FakeGraph, str], name: str, language: str
) -> None:
    message = REGISTRY.build(name, language, sample_params(name))
    result = await graph.send(wa.request_body(message, to=RAVI))
    sent = [m for m in served_fake[0].sent(RAVI) if m.wamid == result.wamid]
    assert sent[0].body["template"] == message.payload["template"]


async def test_the_fake_refuses_a_template_that_was_never_approved(graph: GraphClient) -> None:
    refused = await refusal(graph, wa.template("appointment_reminder", "te", ["రవి"]))
    assert refused.code == 132001


async def test_the_fake_refuses_a_language_the_template_is_not_approved_in(
    graph: GraphClient,
) -> None:
    values = list(sample_params("document_issued").values())
    refused = await refusal(graph, wa.template("document_issued", "hi", values))
    assert refused.code == 132001


@pytest.mark.parametrize("values", [[], ["Income certificate"], ["a", "b", "c"]])
async def test_the_fake_refuses_the_wrong_number_of_parameters(
    graph: GraphClient, values: list[str]
) -> None:
    refused = await refusal(graph, wa.template("document_issued", "en", values))
    assert refused.code == 132000


async def test_the_fake_refuses_a_parameter_with_a_new_line(graph: GraphClient) -> None:
    message = wa.template("document_issued", "en", ["Income\ncertificate", "R-1"])
    refused = await refusal(graph, message)
    assert refused.code == 132018


async def test_a_set_of_names_or_none_still_configures_the_fake() -> None:
    loose = wa.template("anything_goes", "en_US", ["one", "two", "three"])
    for templates, accepted in ((None, True), ({"anything_goes"}, True), ({"other"}, False)):
        fake = create_fake_graph_app(config(templates=templates))
        transport = httpx.ASGITransport(app=fake.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://graph.test") as http:
            graph = GraphClient("http://graph.test", TOKEN, PHONE_NUMBER_ID, http)
            if accepted:
                await graph.send(wa.request_body(loose, to=RAVI))
            else:
                assert (await refusal(graph, loose)).code == 132001
        await fake.aclose()
