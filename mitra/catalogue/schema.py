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
        "text",
        "number",
        "amount",
        "date",
        "mobile",
        "pincode",
        "vehicle",
        "aadhaar",
        "reference",
        "pan",
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
    # A voice note answers too (a grievance's description): it is fetched and kept as an
    # attachment, and the answer reads "voice note".
    voice: bool = False


class ChooseStep(Model):
    """Pick one option: fixed `options`, or one per element of a list in a result
    (`options_from`, e.g. `mine.documents`), each made from `option_id` / `option_title` /
    `option_description` templates over `{item.…}`. The answer is the option's id."""

    kind: Literal["choose"]
    id: str
    prompt: Text
    button: Text | None = None  # the list's menu button label (lists only)
    options: list[Option] = Field(default_factory=list)
    options_from: str | None = None
    option_id: str | None = None
    option_title: Text | None = None
    option_description: Text | None = None
    empty: Text | None = None  # said (and the service ends) when options_from is empty

    @model_validator(mode="after")
    def _options_given(self) -> ChooseStep:
        dynamic = self.options_from is not None
        if dynamic == bool(self.options):
            raise ValueError("a choose step has `options` or `options_from`, not both")
        if dynamic and (self.option_id is None or self.option_title is None):
            raise ValueError("`options_from` needs `option_id` and `option_title`")
        return self


class LocationStep(Model):
    """A shared pin: {kind: pin, latitude, longitude}. With `typed`, the name of a village,
    ward, town or landmark is taken too: {kind: text, text} (a lookup resolves it)."""

    kind: Literal["location"]
    id: str
    prompt: Text
    typed: bool = False


def _images_only() -> list[MediaKind]:
    return ["image"]


class MediaStep(Model):
    """Photos (or other media) the citizen sends. Each is fetched from the Graph API, checked
    and kept before the chat moves on (a wrong type or a too-large file is refused at once);
    the kept media are attached to the case the service submits. Up to `up_to` of them; with
    `optional`, a Skip button. The answer is how many were kept."""

    kind: Literal["media"]
    id: str
    prompt: Text
    accept: list[MediaKind] = Field(default_factory=_images_only)
    up_to: int = Field(default=1, ge=1, le=10)
    optional: bool = False


class ConfirmStep(Model):
    kind: Literal["confirm"]
    id: str
    prompt: Text  # shows the summary with {placeholders}


# Operations Mitra answers from its own records about the citizen asking (not a department).
PLATFORM_OPERATIONS = (
    "my_data",
    "verify_message",
    "my_requests",
    "my_documents",
    "submit_case",
    "withdraw_case",
    "answer_case",
    "send_document",
    "create_payment",
    "my_bookings",
    "cancel_booking",
    "open_handover",
    "close_handover",
    "similar_grievances",
    "join_grievance",
    "rate_grievance",
    "my_grievances",
)
# Fetching what a citizen sent from the Graph API (the worker's call loop, which holds the
# Graph client): made by media steps, never named in a catalogue.
MEDIA_OPERATIONS = ("fetch_media",)
# Calls made while the citizen's message is being processed and never stored: the identity
# step-up's Aadhaar number and OTP must not reach the database (mitra.jobs.identity_calls).
TRANSIENT_OPERATIONS = ("ekyc_start", "ekyc_verify")


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
        "withdraw_case",
        "answer_case",
        "send_document",
        "hold",
        "inventory",
        "inventory_list",
        "my_bookings",
        "cancel_booking",
        "places_named",
        "similar_grievances",
        "join_grievance",
        "rate_grievance",
        "my_grievances",
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


class IdentifyStep(Model):
    """Identity step-up (Aadhaar OTP through the e-KYC port). Saves under `id` only the
    provider's reference token, the last four digits and the name and year of birth on
    record; the number and the OTP are never stored."""

    kind: Literal["identify"]
    id: str
    reason: Text | None = None  # why this service needs it, said before asking


class SubmitStep(Model):
    """Make the application: Mitra numbers it, routes it to the office that covers `area`
    (the result of a `locate` lookup: the applicant's address) and starts its SLA clock.
    Saves {reference, status, expected_by, office} under `save_as`."""

    kind: Literal["submit"]
    id: str
    area: str = "place"
    save_as: str = "case"
    # The department it goes to, when not the service's own: GEN-01's "something else" asks
    # the citizen ("{answers.department}").
    department: str | None = None


class RefundRule(Model):
    """What cancelling a booking gives back: `percent` of what was paid when cancelled at least
    `hours_before` the booked day starts, else nothing (`percent: 0` — no refunds)."""

    percent: int = Field(ge=0, le=100)
    hours_before: int = Field(default=0, ge=0)


class PayStep(Model):
    """Take a payment. Mitra makes a payment link at the gateway and sends it as a button; the
    service's `document` (receipt, e-ticket) and what the payment completes (a bill credited
    at the department, a held booking confirmed) follow when the gateway confirms it — even if
    the citizen has moved on in the chat.

    `amount` is a template giving paise ("{account.dues_paise}", "{hold.amount_paise}",
    "{answers.amount}"). Bills name the account (`account: {kind, number}`); bookings name the
    results key of their hold (`hold`) and the cancellation `refund` rule."""

    kind: Literal["pay"]
    id: str
    purpose: Literal["bill", "booking", "donation"]
    amount: str
    prompt: Text  # the text with the pay button: what, how much, for how long the link works
    button: Text  # ≤ 20 characters
    account: dict[str, str] = Field(default_factory=dict)
    hold: str | None = None
    refund: RefundRule | None = None
    save_as: str = "payment"

    @model_validator(mode="after")
    def _what_it_pays(self) -> PayStep:
        if self.purpose == "bill" and set(self.account) != {"kind", "number"}:
            raise ValueError("a bill payment names its account: {kind, number}")
        if self.purpose == "booking" and (self.hold is None or self.refund is None):
            raise ValueError("a booking payment names its hold and its refund rule")
        return self


class OfficerStep(Model):
    """Hand the citizen to a department's officers (GEN-12, "talk to an officer"): the bot is
    silent until an officer — or a timeout — hands them back, or they send "menu". `department`
    is a code or a template such as "{answers.department}"."""

    kind: Literal["officer"]
    id: str
    department: str
    prompt: Text  # said once connected: who answers here, and how to leave


class HandoverStep(Model):
    """Continue in another service: a code, or a template over the answers whose value is one
    ("{answers.category}" when the options' ids are service codes)."""

    kind: Literal["handover"]
    id: str
    service: str = Field(pattern=r"^([A-Z]{3}-\d{2}|\{[a-z_.]+\})$")


Step = Annotated[
    AskStep
    | ChooseStep
    | LocationStep
    | MediaStep
    | ConfirmStep
    | LookupStep
    | ShowStep
    | BranchStep
    | IdentifyStep
    | SubmitStep
    | PayStep
    | OfficerStep
    | HandoverStep,
    Field(discriminator="kind"),
]


class Turn(Model):
    """One exchange of an example conversation: what the citizen does, what the bot must say."""

    citizen: str | None = None  # types this
    tap: str | None = None  # taps the button / list row with this id
    location: tuple[float, float] | None = None  # shares this point
    media: MediaKind | None = None  # sends a photo, voice note (audio) or file
    # …which Mitra cannot keep: it expired at WhatsApp, is not a type we take, or is too big.
    media_problem: Literal["expired", "wrong_type", "too_large"] | None = None
    expect: list[str] = Field(default_factory=list)  # substrings the bot's replies contain
    expect_choices: list[str] = Field(default_factory=list)  # option ids the bot offers

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        actions = (self.citizen, self.tap, self.location, self.media)
        if sum(x is not None for x in actions) != 1:
            raise ValueError("a turn is exactly one of: citizen, tap, location, media")
        if self.media_problem is not None and self.media is None:
            raise ValueError("media_problem goes with media")
        return self


class Example(Model):
    name: str
    language: Literal["en", "te"]
    turns: list[Turn] = Field(min_length=1)


class DocumentFact(Model):
    """One row of an issued document: a label and a value template over the case's answers
    (`{answers.x}`, `{choices.x}` for the chosen option's title, `{applicant.name}`)."""

    label: Text
    value: Text


class DocumentSpec(Model):
    """What a certificate or approval letter says when an officer approves the case."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    valid_months: int | None = Field(default=None, ge=1)  # None: valid for life
    facts: list[DocumentFact] = Field(min_length=1)


class GrievanceSpec(Model):
    """A grievance category (docs/decisions/0008-grievances.md). The service's steps are the
    grievance pattern's (mitra/catalogue/data/patterns/grievance.yaml) after its own, if any:
    where → already reported? → describe → photos → confirm → submit."""

    priority: Literal["normal", "high", "emergency"] = "normal"
    sla_hours: int = Field(ge=1)  # to resolution at the first office
    photos: Literal["required", "optional"] = "optional"
    describe: Text | None = None  # the question about the problem, if not the pattern's


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
    sla_days: int | None = Field(default=None, ge=1)  # applications: days to a decision
    # Applications: the reference prefix (a kind in the contract's x-mitra-routing, so status
    # look-ups find it): REV-2026-500001-K. Grievances: GRV-<DEPT>-2026-500001-K.
    case_prefix: str | None = Field(default=None, pattern=r"^[A-Z]{3}(-[A-Z]{3})?$")
    document: DocumentSpec | None = None  # what approval issues
    grievance: GrievanceSpec | None = None
    steps: list[Step] = Field(min_length=1)
    examples: list[Example] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _grievance_steps(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("grievance") is not None:
            from mitra.catalogue.patterns import grievance_steps

            data = {
                **data,
                "steps": [*(data.get("steps") or []), *grievance_steps(data)],
                "case_prefix": data.get("case_prefix") or f"GRV-{data.get('department')}",
            }
        return data

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
