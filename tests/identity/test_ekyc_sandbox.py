"""The sandbox desk's rules in-process (`DeskEkycProvider`), and what it keeps."""

from __future__ import annotations

import pytest

from mitra.identity import SANDBOX_OTP, DeskEkycProvider, EkycDesk, EkycError
from tests.identity.ekyc_helpers import FrozenClock, aadhaar, broken

LAKSHMI = aadhaar("23456789012")


def enrolled(count: int) -> list[str]:
    return [aadhaar(f"{70000000000 + 7919 * i}") for i in range(count)]


def test_the_desk_provider_checks_the_number_before_the_desk_sees_it() -> None:
    desk = EkycDesk()
    with pytest.raises(EkycError) as refused:
        DeskEkycProvider(desk).start(broken(LAKSHMI))
    assert refused.value.kind == "invalid_aadhaar"
    assert desk.pending_count() == 0


def test_the_desk_provider_follows_the_same_rules() -> None:
    clock = FrozenClock()
    provider = DeskEkycProvider(EkycDesk(clock=clock))
    sent = provider.start(LAKSHMI)
    with pytest.raises(EkycError) as wrong:
        provider.verify(sent.txn_id, "999999")
    assert (wrong.value.kind, wrong.value.attempts_left) == ("wrong_otp", 2)
    assert provider.verify(sent.txn_id, SANDBOX_OTP).last4 == LAKSHMI[-4:]


def test_sandbox_people_are_plausible_and_stable() -> None:
    numbers = enrolled(60)
    first = [DeskEkycProvider() for _ in range(2)]
    people = []
    for number in numbers:
        results = []
        for provider in first:
            verified = provider.verify(provider.start(number).txn_id, SANDBOX_OTP)
            results.append((verified.name, verified.year_of_birth, verified.gender))
        assert results[0] == results[1]  # another desk, the same person
        people.append(results[0])
    names = {name for name, _, _ in people}
    assert len(names) > 30
    assert all(2 <= len(name.split()) <= 4 and name.replace(" ", "").isalpha() for name in names)
    assert {gender for _, _, gender in people} == {"F", "M"}


def test_the_desk_never_keeps_the_number() -> None:
    desk = EkycDesk()
    provider = DeskEkycProvider(desk)
    sent = provider.start(LAKSHMI)
    assert LAKSHMI not in repr(vars(desk))  # pending: a keyed hash and the last four digits
    verified = provider.verify(sent.txn_id, SANDBOX_OTP)
    assert LAKSHMI not in repr(vars(desk))
    assert LAKSHMI[:8] not in repr(vars(desk))
    assert desk.last4_for(verified.token) == LAKSHMI[-4:]
    assert desk.last4_for("made-up-token") is None


def test_another_sandbox_otp_can_be_configured() -> None:
    provider = DeskEkycProvider(EkycDesk(otp="246810"))
    sent = provider.start(LAKSHMI)
    with pytest.raises(EkycError):
        provider.verify(sent.txn_id, SANDBOX_OTP)
    assert provider.verify(sent.txn_id, "246810").last4 == LAKSHMI[-4:]
