"""The published OpenAPI document is the API: schemathesis sends what the document allows (and what it does not)
to every /api/v1 operation and checks every answer against the document. Never a 500."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from storage.db import database
from storage.tokens import create_token

ADMIN = {}
# Invalid data may also be refused as too large: a string far past its maxLength makes a body over the documented
# 64 kB, which is answered 413 before it is read.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}})


@pytest.fixture
def api_schema(make_app):
    app = make_app()
    with app.app_context(), database.connection_context():
        _, ADMIN["token"] = create_token("contract admin", "admin")
    # the document itself needs a token: only the webhooks and the health endpoints are open
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG,
                                          headers={"Authorization": f"Bearer {ADMIN['token']}"})


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    # Every check but one: a request that fits the schema may still be refused for what it means (an audience
    # nobody is in, a time in the past, a week that does not exist), which no schema can say.
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN['token']}"},
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])


def test_the_document_describes_requests_and_answers(app, client):
    with app.app_context(), database.connection_context():
        _, token = create_token("reader", "cso", scope="BGD")
    document = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}).get_json()
    create = document["paths"]["/api/v1/meetings"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/MeetingIn"}
    meeting_in = document["components"]["schemas"]["MeetingIn"]
    assert {"starts_at", "audience"} <= set(meeting_in["required"])
    assert set(create["responses"]) >= {"201", "200", "400", "401", "403"}
    limit = next(p for p in document["paths"]["/api/v1/complaints"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 500
