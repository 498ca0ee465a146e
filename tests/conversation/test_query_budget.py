"""The statements one webhook request costs, counted through peewee's query log on both engines.

BEGIN and COMMIT are not counted (peewee does not log them); every SELECT, INSERT and UPDATE is.
"""
from __future__ import annotations

import pytest
from playhouse.test_utils import count_queries

from tests.conversation.conftest import AT_TOKEN

MID_FLOW_HOP_BUDGET = 5  # with BEGIN and COMMIT: 6 on SQLite, 7 on PostgreSQL (its lock is a statement)
NEW_SESSION_BUDGET = 10
SMS_ANSWER_BUDGET = 9  # 8, and the flood limit's count (gateway.flood) before the conversation


@pytest.fixture
def hop(at_app):
    client = at_app.test_client()

    def post(session: str, text: str, number: str = "+97699112233") -> tuple[str, list[str]]:
        form = {"sessionId": session, "serviceCode": "*1411#", "phoneNumber": number, "text": text,
                "networkCode": "42899"}
        with count_queries() as counted:
            body = client.post(f"/webhooks/africastalking/ussd?token={AT_TOKEN}", data=form).get_data(as_text=True)
        return body, [record.msg[0] for record in counted.get_queries()]
    return post


def test_a_mid_flow_ussd_hop_is_one_read_and_a_few_writes(hop):
    for text in ("", "1", "1*2", "1*2*1"):  # the notice, the menu, the complaint flow, its place question
        hop("s1", text)  # (this process now knows the admin units)
    hop("s2", "")
    hop("s2", "2")
    body, statements = hop("s2", "2*1")  # an answer in the middle of the flow
    assert body.startswith("CON ")
    assert len(statements) <= MID_FLOW_HOP_BUDGET, "\n".join(statements)
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in sql]
    assert len(reads) == 1, "\n".join(statements)  # PostgreSQL also takes the contact's lock in a statement


def test_a_new_session_of_a_known_person_stays_within_its_budget(hop):
    hop("s1", "")
    hop("s1", "1")
    body, statements = hop("s2", "")
    assert body.startswith("CON ") and len(statements) <= NEW_SESSION_BUDGET, "\n".join(statements)


def test_a_redelivered_hop_reads_once_and_writes_nothing(hop):
    hop("s1", "")
    first, _ = hop("s1", "1")
    again, statements = hop("s1", "1")
    assert again == first and len([sql for sql in statements if "FOR UPDATE" not in sql]) == 1


def test_an_sms_answer_stays_within_its_budget(at_app):
    client = at_app.test_client()

    def send(text: str, message_id: str, number: str = "+97699112233") -> list[str]:
        form = {"from": number, "to": "1411", "text": text, "id": message_id, "date": ""}
        with count_queries() as counted:
            client.post(f"/webhooks/africastalking/sms?token={AT_TOKEN}", data=form)
        return [record.msg[0] for record in counted.get_queries()]

    send("gomdol", "w1", "+97688001122")
    send("1", "w2", "+97688001122")  # someone else's answer led to the place question: the units are known now
    send("gomdol", "m1")
    statements = send("1", "m2")
    assert len(statements) <= SMS_ANSWER_BUDGET, "\n".join(statements)
