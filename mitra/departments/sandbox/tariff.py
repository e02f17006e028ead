"""Electricity bills from units consumed, on the (illustrative) telescopic LT tariff."""

from __future__ import annotations

from typing import Any

from mitra.departments.sandbox.datafiles import load

CATEGORIES = ("domestic", "commercial", "industrial", "agriculture")


def estimate(category: str, units: int) -> dict[str, Any]:
    """The bill for `units` in a month: each slab's units at its rate, plus fixed charges.

    Raises KeyError for an unknown category and ValueError for negative units.
    """
    if units < 0:
        raise ValueError("units must not be negative")
    tariff = load("energy")["tariff"][category]
    slabs = []
    lower = 0
    for upper, rate in tariff["slabs"]:
        if upper is not None and upper <= lower:
            continue
        in_slab = max(0, min(units, upper if upper is not None else units) - lower)
        slabs.append(
            {
                "from_units": lower + 1,
                "to_units": upper,
                "rate": rate,
                "units": in_slab,
                "amount": in_slab * rate,
            }
        )
        if upper is None or units <= upper:
            break
        lower = upper
    energy = sum(s["amount"] for s in slabs)
    duty = units * tariff["duty_per_unit"]
    fixed, customer = tariff["fixed_charge"], tariff["customer_charge"]
    return {
        "category": category,
        "tariff": tariff["name"],
        "units": units,
        "slabs": slabs,
        "energy_charges": energy,
        "fixed_charge": fixed,
        "customer_charge": customer,
        "electricity_duty": duty,
        "total": energy + fixed + customer + duty,
    }
