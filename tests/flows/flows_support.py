"""Shared test data for the flows tests (a uniquely named module, so it never clashes with other conftests)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flows import resume, start

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)

UNITS = [
    {"code": "UB", "kind": "capital", "parent": None, "name_mn": "Улаанбаатар", "name_latn": "Ulaanbaatar",
     "name_en": "Ulaanbaatar"},
    {"code": "SKhD", "kind": "district", "parent": "UB", "name_mn": "Сонгинохайрхан дүүрэг",
     "name_latn": "Songinokhairkhan düüreg", "name_en": "Songinokhairkhan district"},
    {"code": "BGD", "kind": "district", "parent": "UB", "name_mn": "Баянгол дүүрэг",
     "name_latn": "Bayangol düüreg", "name_en": "Bayangol district"},
    {"code": "ZA", "kind": "aimag", "parent": None, "name_mn": "Завхан аймаг", "name_latn": "Zavkhan aimag",
     "name_en": "Zavkhan aimag"},
    {"code": "ZA-TES", "kind": "soum", "parent": "ZA", "name_mn": "Тэс сум", "name_latn": "Tes sum",
     "name_en": "Tes soum"},
    {"code": "ZA-ULS", "kind": "soum", "parent": "ZA", "name_mn": "Улиастай сум", "name_latn": "Uliastai sum",
     "name_en": "Uliastai soum"},
] + [
    {"code": f"SKhD-{n:02d}", "kind": "khoroo", "parent": "SKhD", "name_mn": f"Сонгинохайрхан дүүргийн {n}-р хороо",
     "name_latn": f"Songinokhairkhan {n}-r khoroo", "name_en": f"Songinokhairkhan khoroo {n}"} for n in range(1, 33)
] + [
    {"code": f"BGD-{n:02d}", "kind": "khoroo", "parent": "BGD", "name_mn": f"Баянгол дүүргийн {n}-р хороо",
     "name_latn": f"Bayangol {n}-r khoroo", "name_en": f"Bayangol khoroo {n}"} for n in range(1, 5)
]

INDICATORS = [
    {"code": "A", "mn": "Багш нар хүүхдэд эелдэг хандадаг уу?", "en": "Are teachers courteous to children?"},
    {"code": "B", "mn": "Хоол хангалттай юу?", "en": "Is there enough food?", "latn": "Hool hangalttai yu?"},
]
ROUND_KG = {"key": "kg16", "mn": "16-р цэцэрлэг", "en": "Kindergarten 16", "indicators": INDICATORS,
            "meeting": {"date": "2026-06-20", "place": "хорооны байр"}}
VOTE = {"key": "5", "unit": "BGD-03", "near": ["BGD-01", "BGD-02", "BGD-03", "BGD-04"], "mn": "Баянгол, 3-р хороо",
        "en": "Bayangol, khoroo 3", "short": {"mn": "3-р хороо", "en": "khoroo 3"}, "most": 3, "closes": "2026-06-30",
        "projects": [{"key": str(n), "mn": mn, "en": en} for n, (mn, en) in enumerate(
            [("Гудамжны гэрэл", "Street lights"), ("Усны цэг", "Water kiosk"), ("Цэцэрлэгийн хашаа", "Fence"),
             ("Замын засвар", "Road repair"), ("Гүүр", "Footbridge"), ("Хогийн цэг", "Waste point")], 1)],
        "voted": []}
ROUND_FHC = {"key": "fhc7", "mn": "7-р хорооны ӨЭМТ", "en": "Khoroo 7 health centre",
             "indicators": [{"code": "Q1", "mn": "Эмч хүлээлтгүй үзүүлдэг үү?", "en": "Are waits short?"}]}


def converse(flow, ctx, inputs):
    """Start a run and feed it inputs; returns the list of outcomes (the first is the start)."""
    outcomes = [start(flow, ctx)]
    for text in inputs:
        outcomes.append(resume(flow, outcomes[-1].state, text, ctx))
    return outcomes
