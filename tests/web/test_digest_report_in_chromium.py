"""The weekly CSO digest page as a browser shows it: Debian's headless Chromium renders, screenshots and prints it.

The page is fetched from the app on a real loopback server with a CSO bearer token (a browser cannot add that
header on a navigation), saved, and opened from file:// so it must stand alone. Chromium missing: fail in CI, skip
locally.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from PIL import Image
from werkzeug.serving import make_server

from gateway.secrets import pseudonym_key
from storage import scorecards
from storage.contacts import contact_for_number
from storage.db import database
from storage.models import PhoneNumber
from tests.scorecards.conftest import bearer, new_round

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]
WEEK = "2026-W47"
IN_WEEK = dt.datetime(2026, 11, 18, 4, 0)  # Wednesday of 2026-W47 in Ulaanbaatar
# group -> one (A, B) score pair per respondent; people count in whole blocks of 5 (storage.suppression): women (6)
# and men (7) count their first 5, youth (5) all of them, elderly (2) none
SCORES = {
    "women": [(5, 4), (4, 4), (4, 3), (3, 2), (5, 4), (2, 1)],
    "men": [(3, 2), (3, 3), (4, 2), (4, 5), (5, 2), (1, 1), (2, 2)],
    "youth": [(1, 2), (2, 2), (4, 4), (3, 3), (5, 1)],
    "elderly": [(4, 5), (2, 2)],
}
TABLEAU_BLUE, TABLEAU_ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)  # matplotlib's first two series colours
DECODE_PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "decoded";
  out.textContent = [...document.images].map(i => i.complete + ":" + i.naturalWidth + "x" + i.naturalHeight).join(" ");
  out.dataset.overflow = document.documentElement.scrollWidth - window.innerWidth;
  document.body.append(out);
});
</script>"""


def phone_number(group: str, k: int) -> str:
    """A distinct, valid-looking Mongolian mobile number per respondent (Mobicom 99 prefix)."""
    return f"+976991{list(SCORES).index(group)}{k:04d}"


@pytest.fixture
def chromium():
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")


@pytest.fixture
def report(app, tmp_path) -> Path:
    """One round scored by citizens with real phone numbers, its digest page fetched over HTTP and saved."""
    with time_machine.travel(IN_WEEK, tick=False):
        round_id = new_round(app, min_cell=5)
        with app.app_context(), database.connection_context():
            for group, answers in SCORES.items():
                for k, (a, b) in enumerate(answers):
                    contact, _ = contact_for_number(phone_number(group, k), pseudonym_key(app))
                    scorecards.record_scores(scorecards.Round.get_by_id(round_id), contact, group, {"A": a, "B": b})
            assert PhoneNumber.select().count() == sum(map(len, SCORES.values()))
    headers = bearer(app, "cso")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/digests/{WEEK}.html"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        assert refused.value.code == 401
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
            assert response.headers["Content-Type"] == "text/html; charset=utf-8"
            html = response.read().decode("utf-8")
    finally:
        server.shutdown()
        thread.join(10)
    page = tmp_path / f"digest-{WEEK}.html"
    page.write_text(html, encoding="utf-8")
    return page


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    result = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                            text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Page(HTMLParser):
    """Headings and table rows of a rendered DOM, as whitespace-normalised text."""

    def __init__(self, dom: str):
        super().__init__()
        self.headings: list[str] = []
        self.paragraphs: list[str] = []
        self.rows: list[list[str]] = []
        self.decoded = ""
        self.overflow: int | None = None
        self._text: list[str] | None = None
        self._tag = ""
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "p", "th", "td") or (tag == "pre" and ("id", "decoded") in attrs):
            self._text, self._tag = [], tag
            if tag == "pre":
                self.overflow = int(dict(attrs)["data-overflow"])
        elif tag == "tr":
            self.rows.append([])
        elif tag == "br" and self._text is not None:
            self._text.append(" ")

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag != self._tag or self._text is None:
            return
        text = " ".join("".join(self._text).split())
        if tag in ("th", "td"):
            self.rows[-1].append(text)
        elif tag == "pre":
            self.decoded = text
        elif tag == "p":
            self.paragraphs.append(text)
        else:
            self.headings.append(text)
        self._text = None


def expected_cell(values: list[int]) -> str:
    """How the page prints a published cell: the mean to two places and n (computed here from the raw scores)."""
    return f"{round(sum(values) / len(values), 2)} (n={len(values)})"


def indicator_row(page: Page, code: str) -> dict[str, str]:
    header = next(row for row in page.rows if row and row[0] == "Үзүүлэлт / Indicator")
    row = next(row for row in page.rows if row and row[0].startswith(code + " "))
    return dict(zip(header, row, strict=True))


def test_rendered_dom_has_exact_numbers_suppression_and_no_phone(chromium, report, tmp_path):
    dom = run_chromium(chromium, tmp_path, "--dump-dom", report.as_uri())
    page = Page(dom)
    counted = {group: answers[:5] for group, answers in SCORES.items() if len(answers) >= 5}
    for k, code in enumerate("AB"):
        row = indicator_row(page, code)
        for group, label in (("women", "Эмэгтэй Women"), ("men", "Эрэгтэй Men"), ("youth", "Залуу Youth")):
            assert row[label] == expected_cell([a_b[k] for a_b in counted[group]])
        assert row["Ахмад Elderly"] == "<5" and row["Тодорхойгүй Not stated"] == "–"
        everyone = [a_b[k] for answers in counted.values() for a_b in answers]
        assert row["Бүгд / Pooled"] == expected_cell(everyone)
    [respondents] = [p for p in page.paragraphs if p.startswith("Оролцогч / Respondents:")]
    by_group = ", ".join(f"{mn} / {en}: {5 if group in counted else '<5'}"
                         for group, mn, en in [("elderly", "Ахмад", "Elderly"), ("men", "Эрэгтэй", "Men"),
                                               ("women", "Эмэгтэй", "Women"), ("youth", "Залуу", "Youth")])
    assert respondents == f"Оролцогч / Respondents: 15 ({by_group})"
    assert '<span title="5-аас цөөн хүн / fewer than 5 people">' in report.read_text(encoding="utf-8")
    assert len(page.headings) >= 6
    for heading in page.headings + [cell for row in page.rows[:1] for cell in row]:
        mongolian, english = re.search("[А-яЁёӨөҮү]", heading), re.search("[A-Za-z]{3,}", heading)
        assert mongolian and english and mongolian.start() < english.start(), heading
    for group, answers in SCORES.items():
        for k in range(len(answers)):
            number = phone_number(group, k)
            assert number not in dom and number[4:] not in dom  # neither +976… nor the 8 local digits


def test_screenshot_shows_text_and_charts(chromium, report, tmp_path):
    shot = tmp_path / "digest.png"
    run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,1800", report.as_uri())
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, table borders, the agenda tint and the charts, not a blank page
    counts = {rgb: n for n, rgb in colours}
    assert counts.get(TABLEAU_BLUE, 0) > 500 and counts.get(TABLEAU_ORANGE, 0) > 500  # chart bars on screen


def test_every_chart_decodes_and_the_page_fits_a_phone(chromium, report, tmp_path):
    html = report.read_text(encoding="utf-8")
    sources = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)
    assert len(sources) == 2  # by group and week over week for the one round
    for source in sources:
        with Image.open(io.BytesIO(base64.b64decode(source))) as chart:
            assert chart.format == "PNG" and chart.width > 300 and chart.height > 150
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", DECODE_PROBE + "</body>"), encoding="utf-8")
    # 500 px is headless Chromium's narrowest window; the wide scorecard table scrolls in its own box
    page = Page(run_chromium(chromium, tmp_path, "--window-size=500,900", "--dump-dom", probed.as_uri()))
    assert page.overflow == 0  # the page itself never scrolls sideways
    decoded = page.decoded.split()
    assert len(decoded) == len(sources)
    for entry in decoded:
        complete, size = entry.split(":")
        width, height = map(int, size.split("x"))
        assert complete == "true" and width > 300 and height > 150, entry


def test_report_prints_to_pdf(chromium, report, tmp_path):
    pdf = tmp_path / "digest.pdf"
    run_chromium(chromium, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", report.as_uri())
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF-") and b"%%EOF" in body[-1024:]
    assert len(body) > 20_000  # two embedded charts and the text, not an empty page
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", body)
    assert boxes and all(round(float(w)) == 842 and round(float(h)) == 595 for w, h in boxes)  # A4 landscape
    assert len(re.findall(rb"/Subtype\s*/Image\b", body)) >= 2  # both charts made it into print
    assert page_scales(body) == {0.75}  # 1 CSS px = 0.75 pt on every page: nothing was shrunk to fit the paper


def page_scales(pdf: bytes) -> set[float]:
    """The CSS-px-to-point scale of each page: the product of the first two transforms of its content stream."""
    scales = set()
    for stream in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            content = zlib.decompress(stream.group(1))
        except zlib.error:
            continue  # an image or font, not page content
        transforms = re.findall(rb"([-\d.]+) 0 0 ([-\d.]+) [-\d.]+ [-\d.]+ cm", content)[:2]
        if len(transforms) == 2:
            scales.add(round(abs(float(transforms[0][0]) * float(transforms[1][0])), 3))
    return scales
