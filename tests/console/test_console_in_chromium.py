"""The console in Debian's headless Chromium (Playwright drives /usr/bin/chromium; no browser is downloaded):
sign in, create a meeting and watch its live preview, reply to a complaint and see the SMS reach the (fake) phone
and the citizen's answer come back, open a digest and a vote's results and see their charts, and play the complaint
flow in the web phone up to the reference number. Screenshots go to test-artifacts/console/ (git-ignored).

SQLite only and few tests: the same pages are covered on both databases by the test-client tests.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
import time_machine
from werkzeug.serving import make_server

from gateway.outbox import dispatch
from storage.db import database
from tests.console.conftest import NOW, PASSWORD
from tests.console.seed import PEOPLE, seed
from tests.fakes.signing import android_post

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
REF = re.compile(r"G-[0-9A-Z]{4}")


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture(autouse=True)
def frozen_clock():
    """A running clock from a weekday morning (outside quiet hours) for the server threads of this test."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def fake_android(monkeypatch):
    from tests.fakes import FakeAndroid
    from tests.fakes.signing import ANDROID_KEY, ANDROID_LOGIN, ANDROID_PASSWORD

    for name, value in {"ANDROID_GATEWAY_LOGIN": ANDROID_LOGIN, "ANDROID_GATEWAY_PASSWORD": ANDROID_PASSWORD,
                        "ANDROID_GATEWAY_SIGNING_KEY": ANDROID_KEY}.items():
        monkeypatch.setenv(name, value)
    fake = FakeAndroid(ANDROID_LOGIN, ANDROID_PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def app(make_app, fake_android):
    return make_app(channels={"android": {"enabled": True, "base_url": fake_android.url, "rate_per_second": 200}},
                    routing={"sms": ["android"], "bulk": ["android"]},
                    outbox={"send_timeout_seconds": 2, "backoff_seconds": 1, "dispatch_seconds": 5})


@pytest.fixture
def seeded(app, db, people):
    with app.app_context():
        return seed(app)


@pytest.fixture
def server(app):
    """The app on a real loopback port, as gunicorn would serve it."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="mn-MN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, server: str, name: str) -> None:
    page.goto(f"{server}/console/")
    assert "/console/login" in page.url
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{server}/console/")


def test_sign_in_and_create_a_meeting_with_its_live_preview(page, server, seeded):
    page.goto(f"{server}/console/login")
    shot(page, "01-sign-in")
    sign_in(page, server, "staff")
    assert page.locator("h1").inner_text() == "Энэ 7 хоногийн тойм"
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the dashboard fits a 360 px phone"
    shot(page, "02-dashboard-360px")
    page.set_viewport_size({"width": 1100, "height": 900})

    page.goto(f"{server}/console/meetings/new")
    page.fill("#title_mn", "Хорооны иргэдийн хурал")
    page.fill("#place_mn", "Хорооны байр")
    page.fill("#starts_at", "2026-11-25T18:00")
    page.select_option("#units", "khoroo:BGD-07")
    preview = page.locator("#sms-preview")
    preview.locator("text=MNT").wait_for()  # the live preview counted the people and the cost
    text = page.locator("#sms-preview [data-role=text]").inner_text()
    assert "Хорооны иргэдийн хурал" in text and "18:00" in text
    assert "UCS-2" in page.locator("#sms-preview [data-role=size]").inner_text()
    page.check("input[name=script][value=latn]")
    page.locator("#sms-preview [data-role=size]", has_text="GSM-7").wait_for()
    assert not re.search("[А-Яа-яӨөҮү]", page.locator("#sms-preview [data-role=text]").inner_text())
    shot(page, "03-meeting-preview")
    page.click("button[value=create]")
    page.wait_for_url(re.compile(r".*/console/meetings/\d+$"))
    assert "Хорооны иргэдийн хурал" in page.locator("h1").inner_text()
    assert "2026-11-25 18:00" in page.content()
    shot(page, "04-meeting-created")


def test_reply_reaches_the_phone_and_the_answer_comes_back(app, page, server, seeded, fake_android):
    sign_in(page, server, "staff")
    page.goto(f"{server}/console/complaints/{seeded.complaint.ref}")
    page.fill("#reply-text", "Сайн байна уу, засвар маргааш хийгдэнэ.")
    page.locator("#reply-count").filter(has_text="SMS").wait_for()
    page.click("form[action$='/reply'] button[type=submit]")
    page.locator(".thread .out", has_text="засвар маргааш").wait_for()
    with app.app_context():
        dispatch(app, budget_seconds=5)
    citizen = f"+976{PEOPLE[0][0]}"
    sent = [m for m in fake_android.accepted if "засвар маргааш" in m["text"]]
    assert sent and sent[0]["to"] == citizen, fake_android.accepted
    assert citizen not in page.content() and PEOPLE[0][0] not in page.content()
    body = {"deviceId": "fake-phone", "event": "sms:received", "id": "in-answer-1", "webhookId": "wh-1",
            "payload": {"messageId": "m1", "message": "Баярлалаа, хүлээж байя", "phoneNumber": citizen,
                        "simNumber": 1, "receivedAt": "2026-11-18T11:05:00.000+08:00"}}
    assert android_post(app.test_client(), body).status_code == 200
    page.reload()
    page.locator(".thread .in", has_text="хүлээж байя").wait_for()
    shot(page, "05-complaint-thread")


def test_digest_and_vote_results_show_their_charts(page, server, seeded):
    sign_in(page, server, "cso")
    page.goto(f"{server}/console/digests/?week=2026-W47")
    page.wait_for_load_state("load")  # after every image
    image = page.locator("section.chart img").first
    assert image.evaluate("i => i.complete && i.naturalWidth") > 200
    assert page.locator("a", has_text="CSV").get_attribute("href").endswith(".csv?unit=BGD-07")
    shot(page, "06-digest")

    page.click("nav.menu >> text=Санал хураалт")
    page.click(f"a[href='/console/votes/{seeded.vote.id}']")
    page.set_viewport_size({"width": 360, "height": 740})
    bars = page.locator("figure.bars .bar rect.in")
    assert bars.count() == 3 and all(bars.nth(i).bounding_box()["width"] > 100 for i in range(3)), "drawn, not blank"
    assert page.locator("figure.bars .bar rect.away").first.bounding_box()["width"] > 0, "the Zavkhan vote, apart"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the results fit a 360 px phone"
    shot(page, "07-vote-results-360px")


def test_web_phone_plays_the_complaint_flow_to_its_reference(app, page, server, seeded):
    sign_in(page, server, "staff")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{server}/console/flows/phone")
    screen = page.locator("#phone-screen")
    answers = [("yuunii talaar", "1"), ("duureg esvel sum", "Bayangol"), ("horoo/bag", "7"),
               ("Algasah bol 0", "0"), ("tovch bichne", "Us tugeeh bair haaltai"), ("Nuutsaar", "1")]
    typed = "GOMDOL"
    for _ in range(12):
        before = screen.locator("p.reply").count()
        page.fill("#phone-text", typed)
        page.click("#web-phone button[value=send]")
        screen.locator("p.reply").nth(before).wait_for()
        last = screen.locator("p.reply").last.inner_text()
        if REF.search(last):
            break
        typed = next((answer for cue, answer in answers if cue.lower() in last.lower()), "1")
    else:
        pytest.fail(f"no reference after 12 answers; last screen: {screen.inner_text()}")
    shot(page, "08-web-phone-reference")
    with app.app_context(), database.connection_context():
        from storage.complaints import Complaint
        from storage.models import Message

        assert not Complaint.select().where(Complaint.text.contains("haaltai")).exists(), "the phone saves nothing"
        assert not Message.select().where(Message.channel == "simulator").exists()
