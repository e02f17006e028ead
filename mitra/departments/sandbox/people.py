"""Made-up people for sandbox records, and the contract's masking of their names."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from mitra.departments.sandbox.datafiles import load

_VIRAMA = "\u0c4d"
STARS = "*****"


def _initial(word: str) -> str:
    """The first letter; in Telugu the first syllable (a consonant cluster and its signs)."""
    taken = word[0]
    i = 1
    while i < len(word):
        ch = word[i]
        if unicodedata.category(ch) in ("Mn", "Mc"):
            taken += ch
        elif taken.endswith(_VIRAMA):
            taken += ch  # the consonant a virama joins to
        else:
            break
        i += 1
    return taken


def mask(full_name: str) -> str:
    """Every word but the last as its initial and five stars: "Koteswara Rao" → "K***** Rao"."""
    words = full_name.split()
    return " ".join([_initial(w) + STARS for w in words[:-1]] + words[-1:])


@dataclass(frozen=True)
class Person:
    en: str
    te: str
    sex: str

    def masked(self) -> dict[str, str]:
        return {"en": mask(self.en), "te": mask(self.te)}


def person(rng: random.Random, sex: str | None = None) -> Person:
    words = load("names")
    sex = sex or rng.choice(("female", "male"))
    given, second = (
        (words["female_given"], words["female_second"])
        if sex == "female"
        else (words["male_given"], words["male_second"])
    )
    first = rng.choice(given)
    last = rng.choice([s for s in second if s[0] != first[0]])
    return Person(f"{first[0]} {last[0]}", f"{first[1]} {last[1]}", sex)
