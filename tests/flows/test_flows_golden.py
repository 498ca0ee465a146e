"""Golden conversations: every bundled flow, over SMS and USSD, in Mongolian (both scripts) and English.

Each file in fixtures/conversations/ lists conversations (what the person sends) and what the engine answered.
After an intended change to wording or behaviour, regenerate with ``FLOWS_UPDATE_GOLDEN=1 pytest tests/flows``
and review the diff.
"""
import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flows import AdminCatalog, Context
from tests.flows.flows_support import NOW, converse

GOLDEN = Path(__file__).parent / "fixtures" / "conversations"
# A golden file may say `units: real` to talk about the real districts and soums (Сонгино, Завхан…).
REAL_UNITS = Path(__file__).resolve().parents[2] / "storage" / "data" / "admin_units.csv"
UPDATE = os.environ.get("FLOWS_UPDATE_GOLDEN") == "1"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 200
    yaml.allow_unicode = True
    return yaml


def _cases():
    for path in sorted(GOLDEN.glob("*.yaml")):
        document = _yaml().load(path.read_text(encoding="utf-8"))
        for index, conversation in enumerate(document["conversations"]):
            yield pytest.param(path, index, id=f"{path.stem}: {conversation['name']}")


def _transcript(outcomes) -> list[dict]:
    return [{"replies": list(outcome.replies), "status": outcome.status} for outcome in outcomes]


@pytest.mark.parametrize(("path", "index"), list(_cases()))
def test_golden_conversation(flow_set, catalog, path, index):
    document = _yaml().load(path.read_text(encoding="utf-8"))
    conversation = document["conversations"][index]
    units = AdminCatalog.from_csv(REAL_UNITS) if document.get("units") == "real" else catalog
    ctx = Context(conversation["channel"], conversation["language"], conversation["script"], NOW,
                  dict(conversation.get("vars") or {}), units)
    outcomes = converse(flow_set.get(document["flow"]), ctx, [str(text) for text in conversation["send"]])
    actual = {"transcript": _transcript(outcomes), "results": outcomes[-1].results}
    if UPDATE:
        conversation["expect"] = actual
        with path.open("w", encoding="utf-8") as handle:
            _yaml().dump(document, handle)
        return
    expected = conversation.get("expect")
    assert expected is not None, f"no expectations yet: run with FLOWS_UPDATE_GOLDEN=1 ({path.name})"
    assert _plain(expected) == _plain(actual)


def _plain(value):
    """ruamel's commented types → plain dicts and lists, for a readable diff."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
