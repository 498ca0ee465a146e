"""Storage basics on both engines: migrations, seed data, the number vault, leases, numbers."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.phones import InvalidPhoneNumber, normalize_phone
from storage import leases
from storage.contacts import contact_for_number, number_of
from storage.db import migration_runner, pending_migrations, upgrade, utcnow
from storage.models import AdminUnit, Contact, Lease, PhoneNumber
from storage.phones import contact_key, mask_phone, mask_phones_in


def test_migrations_are_all_applied_and_rerunning_is_a_no_op(db):
    assert pending_migrations() == []
    assert upgrade() == []
    names = [m.name for m in migration_runner().status()]
    assert names[:2] == ["0001_core", "0002_seed_admin_units"]


def test_seed_has_nine_districts_their_khoroos_and_zavkhan(db):
    districts = AdminUnit.select().where(AdminUnit.kind == "district")
    assert districts.count() == 9
    assert AdminUnit.select().where(AdminUnit.kind == "khoroo").count() == 204
    skhd07 = AdminUnit.get(AdminUnit.code == "SKhD-07")
    assert skhd07.parent.code == "SKhD" and skhd07.parent.parent.code == "UB"
    zavkhan = AdminUnit.get(AdminUnit.code == "ZAV")
    assert zavkhan.kind == "aimag" and zavkhan.children.count() == 24
    assert skhd07.valid_from == dt.date(2020, 1, 1) and skhd07.valid_to is None


def test_contacts_are_keyed_by_hmac_and_the_number_sits_only_in_the_vault(db, app):
    secret = app.config["SECRET_KEY"]
    contact, created = contact_for_number("+97699112233", secret)
    again, created_again = contact_for_number("+97699112233", secret)
    assert created and not created_again and again.id == contact.id
    assert contact.key == contact_key("+97699112233", secret) and "99112233" not in contact.key
    assert number_of(contact) == "+97699112233"
    assert PhoneNumber.select().count() == 1 and Contact.select().count() == 1


def test_a_lease_is_held_by_one_holder_until_it_expires(db):
    assert leases.acquire("job", "a", 60)
    assert not leases.acquire("job", "b", 60)
    assert leases.acquire("job", "a", 60)  # renewal
    Lease.update(expires_at=utcnow() - dt.timedelta(seconds=1)).execute()
    assert leases.acquire("job", "b", 60)
    assert leases.holder_of("job") == "b"


@pytest.mark.parametrize("raw", ["99112233", "976 99112233", "+976-9911-2233", "+976 9911 2233", "0097699112233",
                                 "(+976) 99-11-22-33"])
def test_mongolian_numbers_normalise_to_e164(raw):
    assert normalize_phone(raw) == "+97699112233"


@pytest.mark.parametrize("raw", ["", "abc", "123", "9911223", "+976 1234", "+1 000 000"])
def test_invalid_numbers_are_rejected_with_a_masked_message(raw):
    with pytest.raises(InvalidPhoneNumber) as error:
        normalize_phone(raw)
    assert "99112233" not in str(error.value)


def test_masking_keeps_only_the_country_code_and_last_four_digits():
    assert mask_phone("+97699112233") == "+976****2233"
    assert mask_phone("99112233") == "****2233"
    line = mask_phones_in("from +97699112233 at 2026-11-22T10:00:00+0800 to 99112233")
    assert line == "from +976****2233 at 2026-11-22T10:00:00+0800 to +976****2233"


@given(st.text(max_size=40))
def test_normalize_phone_either_returns_e164_or_raises_invalid(raw):
    try:
        result = normalize_phone(raw)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+") and result[1:].isdigit()
