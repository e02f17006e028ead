"""The registry of approved WhatsApp message templates (`data/templates.yaml`).

A template is what Mitra may send a citizen outside the 24-hour window: a case changed, an
office needs more information, a document was issued. The registry knows each template's
category, its parameters by name and its body in every language, and builds the message
from named values, refusing anything Meta would refuse:

    registry = load_registry()
    message = registry.build("document_issued", "te", {"document": …, "reference": …})
    registry.render_text("document_issued", "te", {…})   # what the citizen reads

`build` returns an `OutboundMessage` from `messages.template`, so it is validated like every
other outbound message. The fake Graph API refuses templates that are not in the registry,
as Meta refuses templates that were never approved.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import yaml

from mitra.whatsapp import limits, messages
from mitra.whatsapp.messages import LimitExceeded, OutboundMessage

LANGUAGES: Final = ("en", "te")  # every template is approved in each
CATEGORIES: Final = frozenset({"utility", "marketing", "authentication"})

# Meta's template limits. (They belong in `limits.py`, the one place for limits, and should
# move there.) A body holds at most 1,024 characters as approved; a body parameter at most
# 1,024 when the template has other components (32,768 otherwise: we keep to the lower).
TEMPLATE_BODY: Final = 1024
TEMPLATE_PARAMETER: Final = 1024

_NAME = re.compile(r"[a-z0-9_]+")
_PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")
_WORD = re.compile(r"\w", re.UNICODE)
_TOO_MANY_SPACES = re.compile(r" {5,}")


class TemplateError(ValueError):
    """A template that is not registered, a registry file that breaks Meta's rules, or
    parameters that do not match the template."""


@dataclass(frozen=True)
class Template:
    name: str
    category: str
    parameters: tuple[str, ...]  # the names of {{1}}, {{2}}, … in order
    bodies: Mapping[str, str]  # language code -> body with {{n}} placeholders

    def body(self, language: str) -> str:
        try:
            return self.bodies[language]
        except KeyError:
            raise TemplateError(
                f"template {self.name!r} is not approved in language {language!r}"
            ) from None


class TemplateRegistry:
    """The approved templates, by name."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self._templates = dict(templates)

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    def __iter__(self) -> Iterator[Template]:
        return iter(self._templates.values())

    def __len__(self) -> int:
        return len(self._templates)

    def names(self) -> frozenset[str]:
        return frozenset(self._templates)

    def get(self, name: str) -> Template | None:
        return self._templates.get(name)

    def template(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            raise TemplateError(f"no approved template named {name!r}")
        return template

    def build(self, name: str, language: str, params: Mapping[str, str]) -> OutboundMessage:
        """The template message, its body parameters filled from `params` by name.

        Raises `TemplateError` for an unknown template or language, missing or unexpected
        parameters, and `LimitExceeded` (a ValueError too) for a value WhatsApp would refuse.
        """
        template = self.template(name)
        template.body(language)
        return messages.template(name, language, _ordered(template, params))

    def render_text(self, name: str, language: str, params: Mapping[str, str]) -> str:
        """The body as the citizen reads it (for tests and the simulator)."""
        template = self.template(name)
        body = template.body(language)
        values = _ordered(template, params)
        rendered = _PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], body)
        if len(rendered) > limits.TEXT_BODY:
            raise LimitExceeded(
                f"template {name!r} renders to {len(rendered)} chars, limit {limits.TEXT_BODY}",
                field=f"template {name}",
                limit=limits.TEXT_BODY,
                actual=len(rendered),
            )
        return rendered


def parameter_problem(value: object) -> str | None:
    """Why WhatsApp would refuse `value` as a template's text parameter, or None.

    Meta refuses new-lines, tabs and more than four consecutive spaces (error 132018), an
    empty value, and values over `TEMPLATE_PARAMETER` characters.
    """
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value.strip():
        return "is empty"
    if "\n" in value or "\r" in value or "\t" in value:
        return "holds a new-line or a tab"
    if _TOO_MANY_SPACES.search(value):
        return "holds more than four consecutive spaces"
    if len(value) > TEMPLATE_PARAMETER:
        return f"is {len(value)} chars, limit {TEMPLATE_PARAMETER}"
    return None


def _ordered(template: Template, params: Mapping[str, str]) -> list[str]:
    """The values for {{1}}, {{2}}, … from `params` by name; never quotes a value in an
    error (it may be a citizen's name)."""
    missing = [p for p in template.parameters if p not in params]
    extra = sorted(set(params) - set(template.parameters))
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected {', '.join(extra)}")
        raise TemplateError(
            f"template {template.name!r} takes {', '.join(template.parameters)}: "
            + "; ".join(problems)
        )
    values = []
    for parameter in template.parameters:
        value = params[parameter]
        problem = parameter_problem(value)
        if problem is not None:
            raise LimitExceeded(
                f"template {template.name!r} parameter {parameter} {problem}",
                field=f"template {template.name} parameter {parameter}",
                limit=TEMPLATE_PARAMETER,
            )
        values.append(value)
    return values


# ---- loading --------------------------------------------------------------------------------


@functools.cache
def load_registry() -> TemplateRegistry:
    """The registry shipped with Mitra (`mitra/whatsapp/data/templates.yaml`), checked."""
    text = resources.files("mitra.whatsapp").joinpath("data", "templates.yaml").read_text("utf-8")
    return parse_registry(yaml.safe_load(text))


def parse_registry(data: Any) -> TemplateRegistry:
    """A registry from the YAML's data; raises `TemplateError` naming the template and the
    rule it breaks."""
    if not isinstance(data, Mapping) or not isinstance(data.get("templates"), Mapping):
        raise TemplateError("the template registry needs a `templates:` mapping")
    templates: dict[str, Template] = {}
    for name, spec in data["templates"].items():
        templates[name] = _parse_template(name, spec)
    return TemplateRegistry(templates)


def _parse_template(name: Any, spec: Any) -> Template:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > limits.TEMPLATE_NAME:
        raise TemplateError(f"template name {name!r} may hold only a-z, 0-9 and _")
    if not isinstance(spec, Mapping):
        raise TemplateError(f"template {name}: expected a mapping")
    unknown = set(spec) - {"category", "parameters", "languages"}
    if unknown:
        raise TemplateError(f"template {name}: unknown keys {sorted(unknown)}")
    category = spec.get("category")
    if category not in CATEGORIES:
        raise TemplateError(f"template {name}: category must be one of {sorted(CATEGORIES)}")
    parameters = spec.get("parameters") or []
    if (
        not isinstance(parameters, list)
        or not all(isinstance(p, str) and _PARAMETER_NAME.fullmatch(p) for p in parameters)
        or len(set(parameters)) != len(parameters)
    ):
        raise TemplateError(f"template {name}: parameters must be distinct snake_case names")
    languages = spec.get("languages")
    if not isinstance(languages, Mapping) or set(languages) != set(LANGUAGES):
        raise TemplateError(f"template {name}: needs a body in exactly {', '.join(LANGUAGES)}")
    for language, body in languages.items():
        _check_body(f"template {name} ({language})", body, len(parameters))
    return Template(name, category, tuple(parameters), dict(languages))


def _check_body(where: str, body: Any, count: int) -> None:
    """Meta's rules for an approvable body (those a machine can check)."""
    if not isinstance(body, str) or not body.strip():
        raise TemplateError(f"{where}: the body is empty")
    if len(body) > TEMPLATE_BODY:
        raise TemplateError(f"{where}: the body is {len(body)} chars, limit {TEMPLATE_BODY}")
    if "\t" in body or _TOO_MANY_SPACES.search(body) or "\n\n\n" in body:
        raise TemplateError(f"{where}: tabs, runs of spaces or blank lines in the body")
    found = [int(n) for n in _PLACEHOLDER.findall(body)]
    if sorted(found) != list(range(1, count + 1)):
        raise TemplateError(
            f"{where}: the body must use each of {{{{1}}}}…{{{{{count}}}}} once, "
            f"found {', '.join(f'{{{{{n}}}}}' for n in found) or 'none'}"
        )
    if "{{" in _PLACEHOLDER.sub("", body) or "}}" in _PLACEHOLDER.sub("", body):
        raise TemplateError(f"{where}: a placeholder is not of the form {{{{n}}}}")
    # Meta rejects a body that starts or ends with a parameter (trailing punctuation counts as
    # the end), and parameters with no word between them.
    pieces = _PLACEHOLDER.split(body)[::2]  # the text around the placeholders
    if count and (not _WORD.search(pieces[0]) or not _WORD.search(pieces[-1])):
        raise TemplateError(f"{where}: the body may not start or end with a parameter")
    if any(not _WORD.search(between) for between in pieces[1:-1]):
        raise TemplateError(f"{where}: two parameters with no word between them")
    words = len(_PLACEHOLDER.sub(" ", body).split())
    if words < 2 * count + 1:
        raise TemplateError(f"{where}: too many parameters for {words} words of text")
