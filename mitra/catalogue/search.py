"""Finding the service a citizen means from what they type.

Citizens write "income certificate", "ఆదాయ ధృవీకరణ పత్రం", "karent bil", "I want to pay my current
bill please", or the code on an office poster ("REV-01", "rev 1"). `ServiceIndex.search` matches
a message against every enabled service's titles, synonyms, keywords and descriptions in English
*and* Telugu, whatever language the citizen chose; `code_in` finds a service code.

How a message is scored. (Not with one of rapidfuzz's whole-string scorers such as WRatio,
token_set_ratio or partial_ratio: on the cases in tests/test_catalogue_search.py none of them
both put the meant service first and kept "no" or "taxi" out; the measurements are there.)

1. Both sides are normalised: NFC, casefolded, punctuation and symbols made spaces, zero-width
   joiners dropped, and Telugu spelling variants folded together (`fold_telugu`).
2. Each word of the message is matched to catalogue words within a few edits (Levenshtein:
   none under 3 letters, 1 under 7, 2 beyond), so "incme", "bil" and "srisailm" match while
   "hi" and "ok" match nothing. A Telugu word with a case ending ("పన్నును", "బిల్లుకు") also
   matches through its stem, and two words written as one ("currentbill") through its halves.
3. A phrase (a title, synonym or keyword; a description counts less) scores by how much of it
   the message covers, so word order and extra words do not matter: "pay my current bill
   please" covers all of "current bill".
4. A service takes its best phrase, scaled by how much of the message the service explains:
   the "pay" lifts "Pay electricity bill" above "View electricity bill".

Below `MIN_SCORE` nothing matches: "hello", "asdfgh" and "good morning" find no service.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from mitra.catalogue.loader import Catalogue
from mitra.catalogue.schema import LANGUAGES, Service

MIN_SCORE = 78.0
"""Scores run 0–100. On the test cases every service a citizen meant scored ≥ 83.9 and nothing
said in passing ("good morning", "weather today", "taxi" ~ "tax") above 72.2: this is the middle."""

FIELD_WEIGHTS = {"title": 1.0, "synonym": 1.0, "keyword": 1.0, "description": 0.8}

# How much of a service's score is its best phrase alone; the rest is how much of the message
# the service explains. Lower marks down long, chatty messages; higher cannot tell "pay" from
# "view" when both services cover "current bill".
_PHRASE_SHARE = 0.85

# The longest messages are letters to the Chief Minister: words past this many add nothing to
# finding a service and would only slow the search down.
_MAX_WORDS = 32

# Telugu case endings and plurals, longest first: "పన్నును" is పన్ను + ను.
_TELUGU_ENDINGS = (
    "నుండి", "నుంచి", "కోసం", "లలో", "లకు", "లను",
    "ను", "ని", "కు", "కి", "లో", "తో", "గా", "పై", "లు",
)  # fmt: skip

_CODE = re.compile(r"(?<![a-z0-9])([a-z]{3})\s*[-_.–—]?\s*(\d{1,2})(?!\d)", re.IGNORECASE)

_JOINERS = dict.fromkeys((0x200C, 0x200D))  # ZWNJ, ZWJ: change how Telugu renders, not what it says

# Long vowels written short (and ా dropped: అన్నా / అన్న), as vowel signs and as letters.
_LONG_TO_SHORT = str.maketrans(
    {
        "\u0c3e": "",  # ా
        "\u0c40": "\u0c3f",  # ీ → ి
        "\u0c42": "\u0c41",  # ూ → ు
        "\u0c47": "\u0c46",  # ే → ె
        "\u0c4b": "\u0c4a",  # ో → ొ
        "ఆ": "అ",
        "ఈ": "ఇ",
        "ఊ": "ఉ",
        "ఏ": "ఎ",
        "ఓ": "ఒ",
    }
)
_VOCALIC_R = ("\u0c43", "\u0c4d\u0c30\u0c41")  # ృ → ్రు: ధృవ / ధ్రువ
# At a word's end. Not \b: Python's re counts Telugu vowel signs as non-word characters.
_FINAL_MU = re.compile("\u0c2e\u0c41(?= |$)")  # పత్రము → పత్రం
_FINAL_U_OR_VIRAMA = re.compile("[\u0c41\u0c4d](?= |$)")  # కరెంటు / కరెంట్ → కరెంట


def code_in(text: str) -> str | None:
    """The first service code in `text`, written the catalogue's way ("rev 1" → "REV-01").

    Deep links printed at offices (wa.me/<number>?text=REV-01) arrive as the message text, and
    citizens retype codes from posters in any case, with or without the hyphen. The result is
    only code-shaped: whether such a service exists is the catalogue's to say.
    """
    found = _CODE.search(text)
    if found is None:
        return None
    return f"{found[1].upper()}-{int(found[2]):02d}"


def normalise(text: str) -> str:
    """Casefolded NFC text without joiners, punctuation or symbols, single-spaced."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_JOINERS)
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(text.split())


def fold_telugu(text: str) -> str:
    """Telugu spellings that citizens use interchangeably, folded into one (for matching only).

    ధృవ / ధ్రువ, long / short vowels (ఆస్తీ / ఆస్తి), పత్రము / పత్రం, and English loanwords
    ending in ు or ్ (కరెంటు / కరెంట్). Other scripts pass through unchanged.
    """
    text = text.replace(*_VOCALIC_R).translate(_LONG_TO_SHORT)
    text = _FINAL_MU.sub("ం", text)
    return _FINAL_U_OR_VIRAMA.sub("", text)


@dataclass(frozen=True)
class Match:
    service: Service
    score: float  # 0–100
    matched: str  # the catalogue phrase, as written, that matched best (or the code typed)


@dataclass(frozen=True)
class _Phrase:
    service: int  # index into ServiceIndex._services
    text: str  # as written in the catalogue
    language: str
    weight: float
    words: tuple[int, ...]  # indices into ServiceIndex._words
    length: int  # letters in its words: the whole that a message covers part of


class ServiceIndex:
    """The enabled services of a catalogue, normalised once for searching."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._services = list(catalogue.enabled())
        self._by_code = {s.code: s for s in self._services}
        self._words: list[str] = []  # every distinct catalogue word, folded
        self._word_ids: dict[str, int] = {}
        self._phrases: list[_Phrase] = []
        self._postings: list[list[int]] = []  # word → the phrases that contain it
        self._service_words: list[dict[int, float]] = []  # service → its words' best weight
        for number, service in enumerate(self._services):
            weights: dict[int, float] = {}
            for field, language, text in _phrases_of(service):
                self._add_phrase(number, FIELD_WEIGHTS[field], language, text, weights)
            self._service_words.append(weights)
        # Words by length: a word within k edits is at most k letters longer or shorter, so a
        # search only compares against that slice.
        order = sorted(range(len(self._words)), key=lambda w: len(self._words[w]))
        self._sorted_ids = order
        self._sorted_words = [self._words[w] for w in order]
        self._sorted_lengths = [len(w) for w in self._sorted_words]

    def _add_phrase(
        self, service: int, weight: float, language: str, text: str, weights: dict[int, float]
    ) -> None:
        words = tuple(self._word_id(w) for w in dict.fromkeys(fold_telugu(normalise(text)).split()))
        if not words:
            return
        length = sum(len(self._words[w]) for w in words)
        self._phrases.append(_Phrase(service, text, language, weight, words, length))
        for w in words:
            self._postings[w].append(len(self._phrases) - 1)
            weights[w] = max(weights.get(w, 0.0), weight)

    def _word_id(self, word: str) -> int:
        if word not in self._word_ids:
            self._word_ids[word] = len(self._words)
            self._words.append(word)
            self._postings.append([])
        return self._word_ids[word]

    def search(self, query: str, language: str, limit: int = 10) -> list[Match]:
        """The enabled services `query` most likely means, best first; equal scores by code.

        Both languages are always searched; `language` (the citizen's) only decides which
        phrase `matched` reports when phrases in both languages match equally well. A service
        code in the query ("REV-01") puts that service first.
        """
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        code = code_in(query)
        by_code = self._by_code.get(code) if code else None
        words = list(dict.fromkeys(normalise(query).split()))[:_MAX_WORDS]
        ranked = sorted(
            (
                Match(self._services[s], round(score, 1), phrase.text)
                for s, (score, phrase) in self._score(words, language).items()
                if score >= MIN_SCORE and self._services[s] is not by_code
            ),
            key=lambda m: (-m.score, m.service.code),
        )
        if by_code is not None:
            ranked.insert(0, Match(by_code, 100.0, by_code.code))
        return ranked[: max(limit, 0)]

    def _score(self, words: list[str], language: str) -> dict[int, tuple[float, _Phrase]]:
        """Service → (score, its best phrase), for the services `words` might mean."""
        similar = [self._similar_words(w) for w in words]  # per message word: word id → 0–1
        closest: dict[int, float] = {}  # catalogue word → its best similarity to any message word
        for found in similar:
            for word, similarity in found.items():
                closest[word] = max(closest.get(word, 0.0), similarity)

        # Each service's best phrase; on a tie the one in the citizen's language, then the one
        # the catalogue lists first (the title before keywords and synonyms).
        best: dict[int, tuple[tuple[float, bool, int], _Phrase]] = {}
        seen: set[int] = set()
        for word in closest:
            for number in self._postings[word]:
                if number in seen:
                    continue
                seen.add(number)
                phrase = self._phrases[number]
                covered = sum(len(self._words[w]) * closest.get(w, 0.0) for w in phrase.words)
                rank = (
                    phrase.weight * covered / phrase.length,
                    phrase.language == language,
                    -number,
                )
                if phrase.service not in best or rank > best[phrase.service][0]:
                    best[phrase.service] = (rank, phrase)

        lengths = [len(fold_telugu(w)) for w in words]
        message_length = sum(lengths)
        scored: dict[int, tuple[float, _Phrase]] = {}
        for service, ((score, _, _), phrase) in best.items():
            if 100 * score < MIN_SCORE:
                continue  # what the message explains can only lower a score
            own = self._service_words[service]
            explained = sum(
                length * max((s * own[w] for w, s in found.items() if w in own), default=0.0)
                for length, found in zip(lengths, similar, strict=True)
            )
            share = _PHRASE_SHARE + (1 - _PHRASE_SHARE) * explained / message_length
            scored[service] = (100 * score * share, phrase)
        return scored

    def _similar_words(self, word: str) -> dict[int, float]:
        """Catalogue words close to a message word → similarity (1 is the same word)."""
        found: dict[int, float] = {}
        for form in _forms(word):
            allowed = _edits_allowed(len(form))
            if allowed == 0:
                exact = self._word_ids.get(form)
                if exact is not None:
                    found[exact] = 1.0
                continue
            start = bisect_left(self._sorted_lengths, len(form) - allowed)
            end = bisect_right(self._sorted_lengths, len(form) + allowed)
            for candidate, distance, position in process.extract(
                form,
                self._sorted_words[start:end],
                scorer=Levenshtein.distance,
                score_cutoff=allowed,
                limit=None,
            ):
                if distance <= _edits_allowed(min(len(form), len(candidate))):
                    number = self._sorted_ids[start + position]
                    similarity = 1 - distance / max(len(form), len(candidate))
                    found[number] = max(found.get(number, 0.0), similarity)
        return found or self._halves(word)

    def _halves(self, word: str) -> dict[int, float]:
        """The two catalogue words `word` is written together from ("currentbill"), if any."""
        for cut in range(3, len(word) - 2):
            left = self._word_ids.get(fold_telugu(word[:cut]))
            right = self._word_ids.get(fold_telugu(word[cut:]))
            if left is not None and right is not None:
                return {left: 1.0, right: 1.0}
        return {}


def _phrases_of(service: Service) -> Iterator[tuple[str, str, str]]:
    """(field, language, text) of everything a citizen might search a service by."""
    for language in LANGUAGES:
        yield "title", language, service.title(language)
        yield "description", language, service.description(language)
        for keyword in getattr(service.keywords, language):
            yield "keyword", language, keyword
        for synonym in getattr(service.synonyms, language):
            yield "synonym", language, synonym


def _forms(word: str) -> list[str]:
    """The word folded, and for a Telugu word with a case ending also its stem."""
    forms = [fold_telugu(word)]
    for ending in _TELUGU_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            forms.append(fold_telugu(word[: -len(ending)]))
            break
    return forms


def _edits_allowed(length: int) -> int:
    return 0 if length < 3 else 1 if length < 7 else 2
