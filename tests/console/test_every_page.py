"""Every console page, rendered with seeded data for each role: it answers, it weighs under 200 kB with its
assets, and no seeded phone number appears in it in any written form (nor the number a citizen typed)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Flask

from storage.meetings import Broadcast
from tests.console.seed import PEOPLE, TYPED_NUMBER, seed, written_forms

MAX_PAGE_BYTES = 200 * 1024
ASSET = re.compile(r'(?:href|src)="(/console/static/[^"]+)"')
IMAGE = re.compile(r'<img[^>]+src="([^"]+)"')


@pytest.fixture
def seeded(app, db, people):
    with app.app_context():
        return seed(app)


def page_urls(app: Flask, data) -> list[str]:
    """Every GET route of the console with its arguments filled from the seeded data."""
    week = "2026-W47"
    values = {"meeting_id": data.meeting.id, "broadcast_id": Broadcast.select().first().id,
              "ref": data.complaint.ref, "round_id": data.round.id, "label": week, "user_id": 2,
              "fmt": "csv", "kind": "groups", "vote_id": data.vote.id}
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in ("console.static", "console.auth.invite", "console.auth.login"):
            continue
        with app.test_request_context():
            from flask import url_for

            urls.append(url_for(rule.endpoint, **{arg: values[arg] for arg in rule.arguments}))
    extra = [f"/console/digests/{week}.json", f"/console/digests/{week}.html", "/console/complaints/?overdue=1",
             f"/console/complaints/{data.sensitive.ref}", "/console/meetings/?all=1",
             "/console/complaints/?restricted=y", "/console/digests/?unit=BGD-07",
             f"/console/votes/{data.draft_vote.id}", f"/console/votes/{data.draft_vote.id}/edit"]
    return urls + extra


def number_forms() -> list[str]:
    return [form for local, _ in PEOPLE for form in written_forms(local)] + written_forms(TYPED_NUMBER)


def test_every_page_renders_light_and_shows_no_number(app, seeded, console):
    browser = console("admin")
    asset_sizes: dict[str, int] = {}
    checked = 0
    for url in page_urls(app, seeded):
        response = browser.get(url, follow_redirects=True)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        body = response.get_data(as_text=True) if response.mimetype != "image/png" else ""
        for form in number_forms():
            assert form not in body, f"{form!r} shown on {url}"
        if response.mimetype == "text/html" and "attachment" not in response.headers.get("Content-Disposition", ""):
            for asset in ASSET.findall(body):
                asset_sizes.setdefault(asset, len(browser.get(asset).data))
            weight = len(response.data) + sum(asset_sizes[a] for a in set(ASSET.findall(body)))
            assert weight < MAX_PAGE_BYTES, f"{url} weighs {weight} bytes"
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize("name", ["staff", "cso", "district"])
def test_pages_of_each_role_show_no_number(app, seeded, console, name):
    browser = console(name)
    for url in page_urls(app, seeded):
        response = browser.get(url, follow_redirects=True)
        assert response.status_code in (200, 403, 404), f"{name} {url}: {response.status_code}"
        body = response.get_data(as_text=True) if response.mimetype != "image/png" else ""
        for form in number_forms():
            assert form not in body, f"{form!r} shown to {name} on {url}"


class FormControls(HTMLParser):
    """Inputs, selects and text areas, and the ids that a <label for> names or that sit inside a <label>."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()
        self.inside_label = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "label":
            self.inside_label += 1
            if attributes.get("for"):
                self.labelled.add(attributes["for"])
        elif tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit"):
            self.controls.append({**attributes, "_wrapped": self.inside_label > 0, "_tag": tag})

    def handle_endtag(self, tag):
        if tag == "label":
            self.inside_label -= 1


def test_every_form_field_has_a_label_and_every_page_a_language(app, seeded, console):
    browser = console("admin")
    for url in page_urls(app, seeded):
        response = browser.get(url, follow_redirects=True)
        if response.mimetype != "text/html" or "attachment" in response.headers.get("Content-Disposition", ""):
            continue
        body = response.get_data(as_text=True)
        assert re.search(r'<html lang="(mn|en)">', body), url
        parser = FormControls()
        parser.feed(body)
        for control in parser.controls:
            named = control["_wrapped"] or control.get("id") in parser.labelled or control.get("aria-label")
            assert named, f"{url}: <{control['_tag']} name={control.get('name')!r}> has no label"


def test_dashboard_counts_the_week(app, seeded, console, db):
    page = console("admin").get("/console/").get_data(as_text=True)
    tiles = re.findall(r"<strong>([^<]+)</strong>", page)
    assert tiles[1] == "2", "two open complaints (one restricted) for a national admin"
    assert "1 амжилтгүй" in page, "the failed send of today"
    staff_page = console("staff").get("/console/").get_data(as_text=True)
    assert re.findall(r"<strong>([^<]+)</strong>", staff_page)[1] == "2"
    assert re.findall(r"<strong>([^<]+)</strong>", console("zavkhan").get("/console/").get_data(as_text=True))[1] == "0"


def test_dashboard_says_when_the_phone_was_last_seen(make_app, db, people, frozen_clock, monkeypatch):
    import datetime as dt

    from storage import outbox as outbox_store
    from storage.db import utcnow
    from tests.console.conftest import Console

    monkeypatch.setenv("ANDROID_GATEWAY_URL", "http://127.0.0.1:9")
    app = make_app(channels={"android": {"enabled": True}})
    outbox_store.mark_seen("android", utcnow() - dt.timedelta(minutes=7), "pass")
    browser = Console(app)
    assert browser.login("cso").status_code == 302
    assert "утас 7 минутын өмнө холбогдсон" in browser.get("/console/").get_data(as_text=True)
