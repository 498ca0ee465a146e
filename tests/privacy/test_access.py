"""Roles, scopes and token expiry: the access model every read goes through."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from storage.access import Principal, Scope, check_scope, cli_principal, in_scope, scope_unit_ids
from storage.models import AdminUnit
from storage.tokens import create_token, principal_of, set_scope, token_for


def codes(ids) -> set[str]:
    return {u.code for u in AdminUnit.select().where(AdminUnit.id.in_(ids))}


def test_a_unit_covers_the_units_below_it(db):
    bgd = codes(scope_unit_ids(Scope.parse("BGD")))
    assert "BGD" in bgd and "BGD-07" in bgd and not any(c.startswith("BND") for c in bgd)
    both = codes(scope_unit_ids(Scope.parse("BGD-07, ZAV")))
    assert "BGD-07" in both and "BGD-08" not in both and "ZAV" in both and len(both) > 10
    assert scope_unit_ids(Scope.NATIONAL) is None and scope_unit_ids(Scope.parse("")) == []
    assert AdminUnit.select().where(in_scope(AdminUnit.id, Scope.parse("BGD-07"))).count() == 1
    assert AdminUnit.select().where(in_scope(AdminUnit.id, Scope.NATIONAL)).count() == AdminUnit.select().count()
    assert AdminUnit.select().where(in_scope(AdminUnit.id, Scope.parse(""))).count() == 0


def test_only_an_admin_may_be_national_and_codes_must_exist(db):
    assert str(Scope.parse("ZAV,BGD-07 BGD-07")) == "BGD-07,ZAV" and str(Scope.parse("National")) == "national"
    with pytest.raises(ValueError, match="only an admin"):
        check_scope("staff", Scope.NATIONAL)
    with pytest.raises(ValueError, match="NOPE"):
        check_scope("cso", Scope.parse("BGD,NOPE"))
    with pytest.raises(ValueError, match="at least one"):
        create_token("x", "cso")
    assert check_scope("admin", Scope.NATIONAL).national


def test_principal_of_a_token_and_its_scope_change(db):
    token, plain = create_token("CSO Khoroo 7", "cso", "BGD-07", organisation="Ирээдүй ТББ")
    principal = principal_of(token_for(plain))
    assert principal == Principal("token", token.id, "CSO Khoroo 7", "cso", Scope(("BGD-07",)), "Ирээдүй ТББ")
    assert principal.at_least("cso") and not principal.at_least("staff")
    bgd07 = AdminUnit.get(AdminUnit.code == "BGD-07")
    bgd08 = AdminUnit.get(AdminUnit.code == "BGD-08")
    assert principal.covers(bgd07.id) and not principal.covers(bgd08.id) and not principal.covers(None)
    assert principal_of(set_scope(token.id, "BGD")).covers(bgd08.id)
    with pytest.raises(ValueError):
        set_scope(token.id, "national")
    assert cli_principal().national and cli_principal().covers(None)


def test_tokens_expire(db):
    start = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        _, plain = create_token("short", "admin", days=2)
    with time_machine.travel(start + dt.timedelta(days=1), tick=False):
        assert token_for(plain) is not None
    with time_machine.travel(start + dt.timedelta(days=2, seconds=1), tick=False):
        assert token_for(plain) is None
    with pytest.raises(ValueError):
        create_token("forever", "admin", days=10_000)
