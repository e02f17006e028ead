"""The catalogue's schema. Loading a catalogue validates it; `mitra catalog lint` reports
problems a schema cannot express (limits per language, adapters that do not exist)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LANGUAGES = ("en", "te")
CODE_PATTERN = r"^[A-Z]{3}-\d{2}$"

Pattern = Literal[
    "certificate",
    "application",
    "status",
    "bill",
    "booking",
    "cancel",
    "donation",
    "grievance",
    "document",
    "information",
    "subscription",
]


MediaKind = Literal["image", "document", "audio", "video"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Model):
    """A citizen-facing string in every language. `{name}` placeholders are filled from the
    conversation's answers and results."""

    en: str
    te: str

    def __call__(self, language: str) -> str:
        return str(getattr(self, language))


class Words(Model):
    """Search terms in each language (and romanised Telugu under `en`)."""

    en: list[str] = Field(default_factory=list)
    te: list[str] = Field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.en, *self.te]


class Option(Model):
    id: str = Field(min_length=1, max_length=100)
    title: Text
    description: Text | None = None


class Validation(Model):
    """What an `ask` step accepts. `type` picks a validator in mitra.conversation.validators."""

    type: Literal[
        "text", "number", "amount", "date", "mobile", "pincode", "vehicle", "aadhaar", "reference"
    ] = "text"
    pattern: str | None = None  # a regular expression the (normalised) answer must match
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    uppercase: bool = False  # normalise before matching (reference numbers)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class AskStep(Model):
    kind: Literal["ask"]
    id: str
    prompt: Text
    validate_as: Validation = Field(default_factory=Validation, alias="validate")
    invalid: Text  # the re-prompt: says what is expected


class ChooseStep(Model):
    kind: Literal["choose"]
    id: str
    prompt: Text
    button: Text | None = None  # the list's menu button label (lists only)
    options: list[Option] = Field(min_length=1)


class LocationStep(Model):
    kind: Literal["location"]
    id: str
    prompt: Text


def _images_only() -> list[MediaKind]:
    return ["image"]


class MediaStep(Model):
    kind: Literal["media"]
    id: str
    prompt: Text
    accept: list[MediaKind] = Field(default_factory=_images_only)


class ConfirmStep(Model):
    kind: Literal["confirm"]
    id: str
    prompt: Text  # shows the summary with {placeholders}


# Operations Mitra answers from its own records about the citizen asking (not a department).
PLATFORM_OPERATIONS = ("my_data", "verify_message", "my_requests", "my_documents")


class LookupStep(Model):
    """Call the service's department adapter (or, for the platform operations, Mitra's own
    records about this citizen); the result is saved under `save_as`."""

    kind: Literal["lookup"]
    id: str
    operation: Literal[
        "account",
        "application",
        "grievance",
        "document",
        "nearest",
        "place",
        "info",
        "locate",
        "my_data",
        "verify_message",
        "my_requests",
        "my_documents",
    ]
    args: dict[str, str] = Field(default_factory=dict)  # values may use {placeholders}
    save_as: str = "result"
    not_found: Text | None = None  # said when the department has no such record
    retry_step: str | None = None  # where to go after not_found (usually the ask step)


class ShowStep(Model):
    """Show a result: `render` names a generic renderer (mitra.conversation.render), `text`
    is a template over answers and results."""

    kind: Literal["show"]
    id: str
    render: str | None = None
    text: Text | None = None
    # A list in a result, one line per element: `each` is its path (e.g. result.data.outages),
    # `item` the line's template over {item.…} (and everything else), `empty` said if none.
    each: str | None = None
    item: Text | None = None
    empty: Text | None = None
    # Where to go after showing: a step id, or "end" to finish the service here (default: the
    # next step in the list).
    next: str | None = None

    @model_validator(mode="after")
    def _something_to_show(self) -> ShowStep:
        if not self.render and not self.text and not self.each:
            raise ValueError("a show step needs `render`, `text` or `each`")
        if (self.each is None) != (self.item is None):
            raise ValueError("`each` and `item` go together")
        return self


class BranchStep(Model):
    kind: Literal["branch"]
    id: str
    on: str  # a path such as answers.choice or result.status
    cases: dict[str, str]  # value → step id
    default: str | None = None


class HandoverStep(Model):
    kind: Literal["handover"]
    id: str
    service: str = Field(pattern=CODE_PATTERN)


Step = Annotated[
    AskStep
    | ChooseStep
    | LocationStep
    | MediaStep
    | ConfirmStep
    | LookupStep
    | ShowStep
    | BranchStep
    | HandoverStep,
    Field(discriminator="kind"),
]


class Turn(Model):
    """One exchange of an example conversation: what the citizen does, what the bot must say."""

    citizen: str | None = None  # types this
    tap: str | None = None  # taps the button / list row with this id
    location: tuple[float, float] | None = None  # shares this point
    expect: list[str] = Field(default_factory=list)  # substrings the bot's replies contain
    expect_choices: list[str] = Field(default_factory=list)  # option ids the bot offers

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        if sum(x is not None for x in (self.citizen, self.tap, self.location)) != 1:
            raise ValueError("a turn is exactly one of: citizen, tap, location")
        return self


class Example(Model):
    name: str
    language: Literal["en", "te"]
    turns: list[Turn] = Field(min_length=1)


class Service(Model):
    code: str = Field(pattern=CODE_PATTERN)
    version: int = Field(ge=1)
    department: str
    pattern: Pattern
    title: Text  # a list row: ≤ 24 characters in every language
    description: Text  # a list row description: ≤ 72
    keywords: Words = Field(default_factory=Words)
    synonyms: Words = Field(default_factory=Words)
    enabled: bool = True
    steps: list[Step] = Field(min_length=1)
    examples: list[Example] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_are_consistent(self) -> Service:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.code}: step ids must be unique")
        known = set(ids)
        for s in self.steps:
            targets: list[str] = []
            if isinstance(s, BranchStep):
                targets = [*s.cases.values(), *([s.default] if s.default else [])]
            if isinstance(s, LookupStep) and s.retry_step:
                targets = [s.retry_step]
            if isinstance(s, ShowStep) and s.next and s.next != "end":
                targets = [s.next]
            for t in targets:
                if t not in known:
                    raise ValueError(f"{self.code}: step {s.id} refers to unknown step {t}")
        return self

    def step(self, step_id: str) -> Any:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


class Department(Model):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    name: Text  # a list row title: ≤ 24
    description: Text  # ≤ 72
    order: int


class CatalogueFile(Model):
    services: list[Service]
