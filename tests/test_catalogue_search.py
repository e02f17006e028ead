"""Finding a service from what a citizen types (mitra.catalogue.search).

The catalogue is tests/fixtures/catalogue/: a dozen services across the departments, one of them
switched off. Every query runs twice, with the citizen's language set to English and to Telugu,
because both languages are always searched.

The cases below are also the measurements behind the scoring: 91 that mean a service (FINDS)
and 23 that mean none (NOTHING). Scoring each service by its best phrase under a single
rapidfuzz scorer, against the word-by-word scoring the module uses:

    scorer                  meant first   best threshold   what goes wrong
    fuzz.ratio                88 / 91       107 / 114      "taxi" scores 86, long messages 58
    fuzz.token_sort_ratio     90 / 91       108 / 114      the same
    fuzz.WRatio               87 / 91       109 / 114      "no" scores 90, as high as real matches
    fuzz.token_set_ratio      79 / 91       100 / 114      any phrase inside the message scores
                                                           100: "pay my current bill" ties every
                                                           electricity service, "no" finds one
    fuzz.partial_ratio        79 / 91        99 / 114      "taxi" scores 100 ("tax" is inside)
    word by word              91 / 91       114 / 114      meant ≥ 83.9, chit-chat ≤ 72.2

MIN_SCORE sits in the middle of that gap.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from mitra.catalogue.loader import Catalogue, load_catalogue
from mitra.catalogue.schema import LANGUAGES, Service
from mitra.catalogue.search import (
    MIN_SCORE,
    Match,
    ServiceIndex,
    code_in,
    fold_telugu,
    normalise,
)

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"

INCOME = {"REV-01"}
CASTE = {"REV-02"}
SECRETARIAT = {"REV-35"}
PROPERTY_TAX = {"MUN-01"}
TANKER = {"MUN-19"}
ELECTRICITY_BILL = {"ENG-01", "ENG-02"}  # seeing it or paying it: either is a fair first offer
PAY_ELECTRICITY_BILL = {"ENG-02"}
NO_POWER = {"ENG-12"}
BUS_TICKET = {"RTC-02"}
SRISAILAM = {"END-01"}
ANNA_CANTEEN = {"ANC-01"}
GRIEVANCE_STATUS = {"GEN-02"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(FIXTURES)


@pytest.fixture(scope="module")
def index(catalogue: Catalogue) -> ServiceIndex:
    return ServiceIndex(catalogue)


def codes(matches: list[Match]) -> list[str]:
    return [m.service.code for m in matches]


def make_service(
    code: str,
    title: str,
    *,
    telugu_title: str = "సేవ",
    description: str = "A service",
    keywords: Iterable[str] = (),
    synonyms: Iterable[str] = (),
    telugu_synonyms: Iterable[str] = (),
    enabled: bool = True,
) -> Service:
    return Service.model_validate(
        {
            "code": code,
            "version": 1,
            "department": code[:3],
            "pattern": "information",
            "title": {"en": title, "te": telugu_title},
            "description": {"en": description, "te": "ఒక సేవ"},
            "keywords": {"en": list(keywords)},
            "synonyms": {"en": list(synonyms), "te": list(telugu_synonyms)},
            "enabled": enabled,
            "steps": [{"kind": "show", "id": "answer", "text": {"en": title, "te": telugu_title}}],
            "examples": [{"name": "opens by code", "language": "en", "turns": [{"citizen": code}]}],
        }
    )


def make_catalogue(services: Iterable[Service]) -> Catalogue:
    return Catalogue(departments=[], versions={(s.code, s.version): s for s in services})


# What a citizen types → the services that may fairly come first.
FINDS = [
    # the catalogue's own words
    pytest.param("income certificate", INCOME, id="exact: income certificate"),
    pytest.param("ఆదాయ ధృవీకరణ పత్రం", INCOME, id="exact telugu: income certificate"),
    pytest.param("caste certificate", CASTE, id="exact: caste certificate"),
    pytest.param("కుల ధృవీకరణ పత్రం", CASTE, id="exact telugu: caste certificate"),
    pytest.param("property tax", PROPERTY_TAX, id="exact: property tax"),
    pytest.param("ఆస్తి పన్ను", PROPERTY_TAX, id="exact telugu: property tax"),
    pytest.param("Book a water tanker", TANKER, id="exact: water tanker"),
    pytest.param("నీటి ట్యాంకర్ బుకింగ్", TANKER, id="exact telugu: water tanker"),
    pytest.param("power cut", NO_POWER, id="exact: power cut"),
    pytest.param("కరెంట్ పోయింది", NO_POWER, id="exact telugu: power cut"),
    pytest.param("bus ticket", BUS_TICKET, id="exact: bus ticket"),
    pytest.param("బస్సు టికెట్", BUS_TICKET, id="exact telugu: bus ticket"),
    pytest.param("శ్రీశైలం దర్శనం", SRISAILAM, id="exact telugu: srisailam darshan"),
    pytest.param("anna canteen", ANNA_CANTEEN, id="exact: anna canteen"),
    pytest.param("అన్న క్యాంటీన్", ANNA_CANTEEN, id="exact telugu: anna canteen"),
    pytest.param("complaint status", GRIEVANCE_STATUS, id="exact: complaint status"),
    pytest.param("ఫిర్యాదు స్థితి", GRIEVANCE_STATUS, id="exact telugu: complaint status"),
    pytest.param("nearest secretariat", SECRETARIAT, id="exact: nearest secretariat"),
    pytest.param("దగ్గరలోని సచివాలయం", SECRETARIAT, id="exact telugu: nearest secretariat"),
    # one word
    pytest.param("income", INCOME, id="one word: income"),
    pytest.param("tanker", TANKER, id="one word: tanker"),
    pytest.param("srisailam", SRISAILAM, id="one word: srisailam"),
    pytest.param("సచివాలయం", SECRETARIAT, id="one word telugu: secretariat"),
    pytest.param("పన్ను", PROPERTY_TAX, id="one word telugu: tax"),
    # romanised Telugu and Indian-English spellings (listed as synonyms)
    pytest.param("karent bil", ELECTRICITY_BILL, id="romanised: karent bil"),
    pytest.param("current bill", ELECTRICITY_BILL, id="romanised: current bill"),
    pytest.param("karentu bill", ELECTRICITY_BILL, id="romanised: karentu bill"),
    pytest.param("karentu bil kattali", PAY_ELECTRICITY_BILL, id="romanised: pay current bill"),
    pytest.param("current poyindi", NO_POWER, id="romanised: power gone"),
    pytest.param("illu pannu", PROPERTY_TAX, id="romanised: house tax"),
    pytest.param("aadaya dhruvikarana patram", INCOME, id="romanised: income certificate"),
    pytest.param("grama sachivalayam", SECRETARIAT, id="romanised: village secretariat"),
    pytest.param("srisailam darshanam", SRISAILAM, id="romanised: srisailam darshanam"),
    # ... and their typos, which no one lists
    pytest.param("karrent bill", ELECTRICITY_BILL, id="romanised typo: karrent bill"),
    pytest.param("karentu bil", ELECTRICITY_BILL, id="romanised typo: karentu bil"),
    pytest.param("aadaya dhruveekarana patram", INCOME, id="romanised typo: dhruveekarana"),
    pytest.param("sachivaalayam", SECRETARIAT, id="romanised typo: sachivaalayam"),
    pytest.param("phiryadu stiti", GRIEVANCE_STATUS, id="romanised typo: phiryadu stiti"),
    pytest.param("neeti tankar", TANKER, id="romanised typo: neeti tankar"),
    pytest.param("bassu tiket", BUS_TICKET, id="romanised typo: bassu tiket"),
    # typos
    pytest.param("incme certficate", INCOME, id="typo: incme certficate"),
    pytest.param("propert tax", PROPERTY_TAX, id="typo: propert tax"),
    pytest.param("propery tax", PROPERTY_TAX, id="typo: propery tax"),
    pytest.param("caste certifcate", CASTE, id="typo: caste certifcate"),
    pytest.param("cast certificate", CASTE, id="typo: cast certificate"),
    pytest.param("water tankr", TANKER, id="typo: water tankr"),
    pytest.param("bus tiket", BUS_TICKET, id="typo: bus tiket"),
    pytest.param("srisailm", SRISAILAM, id="typo: srisailm"),
    pytest.param("grievence status", GRIEVANCE_STATUS, id="typo: grievence status"),
    pytest.param("electricty bil", ELECTRICITY_BILL, id="typo: electricty bil"),
    pytest.param("anna canten", ANNA_CANTEEN, id="typo: anna canten"),
    pytest.param("ఆస్థి పన్ను", PROPERTY_TAX, id="typo telugu: aspirate in asthi"),
    pytest.param("కరెంటు బిళ్లు", ELECTRICITY_BILL, id="typo telugu: retroflex in bill"),
    pytest.param("సచివాలం", SECRETARIAT, id="typo telugu: letter missing"),
    # word order
    pytest.param("certificate income", INCOME, id="word order: certificate income"),
    pytest.param("tax property", PROPERTY_TAX, id="word order: tax property"),
    pytest.param("bill current", ELECTRICITY_BILL, id="word order: bill current"),
    pytest.param("పత్రం ధృవీకరణ ఆదాయ", INCOME, id="word order telugu: income certificate"),
    pytest.param("పన్ను ఆస్తి", PROPERTY_TAX, id="word order telugu: property tax"),
    # extra words
    pytest.param(
        "I want to pay my current bill please", PAY_ELECTRICITY_BILL, id="extra words: pay bill"
    ),
    pytest.param(
        "need income certificate for scholarship", INCOME, id="extra words: income certificate"
    ),
    pytest.param("book bus ticket to vijayawada", BUS_TICKET, id="extra words: bus ticket"),
    pytest.param("where is anna canteen", ANNA_CANTEEN, id="extra words: anna canteen"),
    pytest.param("no current since morning", NO_POWER, id="extra words: no current"),
    pytest.param(
        "Sir I am from Guntur district my father needs income certificate urgently for "
        "college admission please help",
        INCOME,
        id="extra words: a long letter",
    ),
    pytest.param(
        "sir our village has no current from yesterday night please do something",
        NO_POWER,
        id="extra words: a long complaint",
    ),
    pytest.param("నాకు ఆదాయ ధృవీకరణ పత్రం కావాలి", INCOME, id="extra words telugu: I need"),
    pytest.param("మా ఊరిలో కరెంట్ పోయింది", NO_POWER, id="extra words telugu: in our village"),
    pytest.param("కరెంటు బిల్లు కట్టాలి", PAY_ELECTRICITY_BILL, id="extra words telugu: pay"),
    # case, punctuation, spacing, emoji
    pytest.param("INCOME CERTIFICATE!!!", INCOME, id="case and punctuation: shouting"),
    pytest.param("Income-Certificate?", INCOME, id="case and punctuation: hyphen"),
    pytest.param("  property   tax...  ", PROPERTY_TAX, id="case and punctuation: spaces"),
    pytest.param("Current Bill 🙏", ELECTRICITY_BILL, id="case and punctuation: emoji"),
    pytest.param("ఆస్తి పన్ను???", PROPERTY_TAX, id="case and punctuation telugu: question"),
    pytest.param("కరెంటు, బిల్లు!", ELECTRICITY_BILL, id="case and punctuation telugu: comma"),
    # Telugu spelling variants
    pytest.param("ఆదాయ ధ్రువీకరణ పత్రము", INCOME, id="telugu variant: dhruva and patramu"),
    pytest.param("ఆస్తీ పన్ను", PROPERTY_TAX, id="telugu variant: long vowel sign"),
    pytest.param("కరెంట్ బిల్లు", ELECTRICITY_BILL, id="telugu variant: virama for u"),
    pytest.param("కరంటు బిల్లు", ELECTRICITY_BILL, id="telugu variant: vowel sign missing"),
    pytest.param("అన్నా క్యాంటీన్", ANNA_CANTEEN, id="telugu variant: long final a"),
    pytest.param("ఇన్\u200cకమ్ సర్టిఫికెట్", INCOME, id="telugu variant: ZWNJ"),
    pytest.param("ఇన్\u200dకమ్ సర్టిఫికెట్", INCOME, id="telugu variant: ZWJ"),
    # Telugu case endings
    pytest.param("ఇంటి పన్నును ఎలా కట్టాలి", PROPERTY_TAX, id="telugu ending: -nu"),
    pytest.param("కరెంటు బిల్లుకు డబ్బులు కట్టాలి", PAY_ELECTRICITY_BILL, id="telugu ending: -ku"),
    pytest.param("ఆదాయ సర్టిఫికెట్‌కి దరఖాస్తు", INCOME, id="telugu ending: -ki"),
    pytest.param("దగ్గరలో సచివాలయంలో", SECRETARIAT, id="telugu ending: -lo"),
    # words run together
    pytest.param("currentbill", ELECTRICITY_BILL, id="run together: currentbill"),
    pytest.param("incomecertificate", INCOME, id="run together: incomecertificate"),
    pytest.param("కరెంటుబిల్లు", ELECTRICITY_BILL, id="run together telugu: current bill"),
    # both scripts in one message
    pytest.param("current బిల్లు", ELECTRICITY_BILL, id="mixed scripts: current bill"),
    pytest.param("income సర్టిఫికెట్", INCOME, id="mixed scripts: income certificate"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("query", "meant"), FINDS)
def test_a_citizen_finds_the_service_they_mean(
    index: ServiceIndex, query: str, meant: set[str], language: str
) -> None:
    matches = index.search(query, language)
    assert matches, f"{query!r} found nothing"
    assert matches[0].service.code in meant, f"{query!r} → {codes(matches)}"


def test_a_citizen_who_says_pay_is_offered_paying_before_viewing(index: ServiceIndex) -> None:
    found = codes(index.search("I want to pay my current bill please", "en"))
    assert found[:2] == ["ENG-02", "ENG-01"]


NOTHING = [
    "asdfgh",
    "hello",
    "good morning",
    "good evening sir",
    "thanks",
    "ok thank you",
    "how are you",
    "what is your name",
    "weather today",
    "cricket score",
    "taxi",
    "qwerty uiop",
    "namaste",
    "no",
    "నమస్కారం",
    "ధన్యవాదాలు",
    "ఎలా ఉన్నారు",
    "శుభోదయం",
    "12345",
    "🙏🙏",
    "!!!",
    "   ",
    "",
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("query", NOTHING)
def test_words_that_mean_no_service_find_nothing(
    index: ServiceIndex, query: str, language: str
) -> None:
    assert index.search(query, language) == []


@pytest.mark.parametrize("query", ["Hi", "hi", "HI", "menu", "Menu", "హాయ్", "మెనూ"])
def test_commands_that_reach_search_do_not_crash_it(index: ServiceIndex, query: str) -> None:
    for language in LANGUAGES:
        assert all(isinstance(m, Match) for m in index.search(query, language))


def test_a_switched_off_service_is_never_found(index: ServiceIndex, catalogue: Catalogue) -> None:
    switched_off = catalogue.service("MUN-02")
    assert switched_off is not None and not switched_off.enabled
    for phrase in [
        "pay property tax",
        "Pay property tax",
        "ఆస్తి పన్ను చెల్లింపు",
        *switched_off.synonyms.all(),
        "MUN-02",
    ]:
        assert "MUN-02" not in codes(index.search(phrase, "en")), phrase
    assert codes(index.search("pay property tax", "en"))[:1] == ["MUN-01"]


def test_results_come_best_first_and_none_below_the_threshold(index: ServiceIndex) -> None:
    matches = index.search("current bill", "en")
    scores = [m.score for m in matches]
    assert len(matches) >= 2
    assert scores == sorted(scores, reverse=True)
    assert all(MIN_SCORE <= s <= 100 for s in scores)


def test_equal_scores_come_in_code_order(index: ServiceIndex) -> None:
    matches = index.search("certificate", "en")
    assert codes(matches) == ["REV-01", "REV-02"]
    assert matches[0].score == matches[1].score

    twins = make_catalogue(
        [
            make_service("GEN-07", "Duplicate receipt", keywords=["receipt"]),
            make_service("ANC-05", "Duplicate receipt", keywords=["receipt"]),
            make_service("CMR-07", "Duplicate receipt", keywords=["receipt"]),
        ]
    )
    for _ in range(3):
        assert codes(ServiceIndex(twins).search("duplicate receipt", "en")) == [
            "ANC-05",
            "CMR-07",
            "GEN-07",
        ]


def test_limit_caps_the_results(index: ServiceIndex) -> None:
    assert len(index.search("bill", "en")) > 1
    assert codes(index.search("bill", "en", limit=1)) == ["ENG-01"]
    assert codes(index.search("certificate", "te", limit=1)) == ["REV-01"]
    assert index.search("bill", "en", limit=0) == []


def test_a_match_says_which_catalogue_phrase_it_matched(index: ServiceIndex) -> None:
    assert index.search("karent bil", "en")[0].matched == "karent bill"
    assert index.search("certificate income", "en")[0].matched == "Income certificate"
    assert index.search("ఆదాయ ధృవీకరణ పత్రం", "te")[0].matched == "ఆదాయ ధృవీకరణ పత్రం"
    assert index.search("no current since morning", "en")[0].matched == "no current"


def test_when_phrases_in_both_languages_match_equally_the_citizens_is_reported() -> None:
    # Telugu text often writes APSRTC in Latin letters, so both lists can hold the same word.
    index = ServiceIndex(
        make_catalogue(
            [make_service("RTC-02", "Bus ticket", synonyms=["apsrtc"], telugu_synonyms=["APSRTC"])]
        )
    )
    assert index.search("apsrtc", "en")[0].matched == "apsrtc"
    assert index.search("apsrtc", "te")[0].matched == "APSRTC"


def test_an_unknown_language_is_a_programming_error(index: ServiceIndex) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        index.search("income certificate", "hi")


# --- service codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "REV-01",
        "rev-01",
        "Rev-01",
        "rev 01",
        "rev01",
        "REV-1",
        "rev 1",
        "REV_01",
        "REV – 01",
        "wa.me/919876543210?text=REV-01",
        "I saw REV-01 on the poster",
        "ఆదాయ ధృవీకరణ పత్రం REV-01 కావాలి",
        "(rev-01).",
    ],
)
def test_a_service_code_is_recognised_however_it_is_typed(text: str) -> None:
    assert code_in(text) == "REV-01"


@pytest.mark.parametrize(
    "text", ["", "hello", "REV", "REV-", "REV-001", "12345", "service12", "covid19", "ఆదాయం"]
)
def test_text_without_a_service_code_has_none(text: str) -> None:
    assert code_in(text) is None


def test_the_first_of_several_codes_counts() -> None:
    assert code_in("ENG-02 or eng 01") == "ENG-02"


def test_a_citizen_who_types_a_code_gets_that_service_first(index: ServiceIndex) -> None:
    for text in ["REV-01", "rev 1", "wa.me/919876543210?text=REV-01"]:
        first = index.search(text, "en")[0]
        assert (first.service.code, first.score, first.matched) == ("REV-01", 100.0, "REV-01")
    assert codes(index.search("ENG-01 current bill", "en")) == ["ENG-01", "ENG-02"]


def test_a_code_of_no_enabled_service_finds_nothing(index: ServiceIndex) -> None:
    assert index.search("XYZ-99", "en") == []
    assert index.search("MUN-02", "en") == []


# --- normalisation ---------------------------------------------------------------------------


def test_normalising_drops_case_punctuation_and_extra_spaces() -> None:
    assert normalise("  Income-Certificate?!  PLEASE ") == "income certificate please"
    assert normalise("ఆస్తి, పన్ను!!") == "ఆస్తి పన్ను"


def test_normalising_composes_telugu_and_drops_joiners() -> None:
    decomposed_kai = "\u0c15\u0c46\u0c56"  # క + ె + ౖ
    assert normalise(decomposed_kai) == "\u0c15\u0c48"  # కై
    assert normalise("ఇన్\u200cకమ్ ఇన్\u200dకమ్") == "ఇన్కమ్ ఇన్కమ్"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ధృవీకరణ", "ధ్రువీకరణ"),
        ("ఆస్తి", "ఆస్తీ"),
        ("పత్రం", "పత్రము"),
        ("కరెంటు", "కరెంట్"),
        ("అన్న", "అన్నా"),
    ],
)
def test_telugu_spelling_variants_fold_together(one: str, other: str) -> None:
    assert fold_telugu(one) == fold_telugu(other)


def test_folding_leaves_english_alone() -> None:
    assert fold_telugu("income certificate") == "income certificate"


# --- a catalogue of a thousand services ---------------------------------------------------------

_LATIN_SYLLABLES = "ka ra ma na pa ta sa la va di ri ni ti ku ru mu po to ge be an en in on".split()
_TELUGU_SYLLABLES = "క ర మ న ప త స ల వ డి రి ని టి కు రు ము పో తో గె బె చ శ అం ఎం ఇం ల్లు ట్టి ంచ".split()


def synthetic_catalogue(size: int, planted: Iterable[Service], seed: int = 7) -> Catalogue:
    """`planted` among made-up services up to `size`, each with as many phrases as a real one."""
    rng = random.Random(seed)

    def vocabulary(syllables: list[str], count: int) -> list[str]:
        return [
            "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(count)
        ]

    english, telugu = vocabulary(_LATIN_SYLLABLES, 3000), vocabulary(_TELUGU_SYLLABLES, 2000)

    def words(pool: list[str], count: int) -> str:
        return " ".join(rng.choice(pool) for _ in range(count))

    services = list(planted)
    number = 0
    while len(services) < size:
        number += 1
        if number % 100 == 0:
            continue
        prefix = "X" + chr(65 + number // 2600 % 26) + chr(65 + number // 100 % 26)
        code = f"{prefix}-{number % 100:02d}"
        service = make_service(
            code,
            words(english, 3),
            telugu_title=words(telugu, 2),
            description=words(english, 10),
            keywords=[words(english, 1) for _ in range(3)],
            synonyms=[words(english, rng.randint(2, 3)) for _ in range(4)],
            telugu_synonyms=[words(telugu, 2) for _ in range(2)],
        )
        services.append(service)
    return make_catalogue(services)


def test_among_a_thousand_services_citizens_still_find_theirs(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    large = synthetic_catalogue(1000, catalogue.versions.values())
    assert len(large.current) == 1000
    started = time.perf_counter()
    index = ServiceIndex(large)
    built = time.perf_counter() - started

    cases = [
        ("karent bil", ELECTRICITY_BILL),
        ("incme certficate", INCOME),
        ("ఆదాయ ధృవీకరణ పత్రం", INCOME),
        ("I want to pay my current bill please", PAY_ELECTRICITY_BILL),
        ("కరెంటు బిల్లుకు డబ్బులు కట్టాలి", PAY_ELECTRICITY_BILL),
        ("propert tax", PROPERTY_TAX),
        ("srisailm", SRISAILAM),
        ("REV-01", INCOME),
        (
            "Sir I am from Guntur district my father needs income certificate urgently for "
            "college admission please help",
            INCOME,
        ),
        ("asdfgh", set()),
        ("hello", set()),
    ]
    timings: list[float] = []
    for query, meant in cases:
        for _ in range(20):
            started = time.perf_counter()
            matches = index.search(query, "en")
            timings.append(time.perf_counter() - started)
        if meant:
            assert matches and matches[0].service.code in meant, query
        else:
            assert matches == [], query

    with capsys.disabled():
        print(
            f"\n1,000 services: index built in {built * 1000:.0f} ms; search median "
            f"{statistics.median(timings) * 1000:.2f} ms, 95th percentile "
            f"{statistics.quantiles(timings, n=20)[-1] * 1000:.2f} ms, "
            f"slowest {max(timings) * 1000:.2f} ms over {len(timings)} searches"
        )
