"""Pages at 360 px (a cheap phone) and the projector page on a 1024×768 and 1280×800 screen."""

import pytest
from sqlalchemy import select

from bimtek.attendance.models import TrainingSession
from bimtek.extensions import db
from bimtek.learning.models import Course
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

TABLE_MODULE = "kewajiban-netralitas-asn"  # has a three-column table of long cells

# Every table wider than its box must sit in a box that scrolls sideways, or be stacked
# (one card per row: its cells are blocks). Returns the offenders.
UNCONTAINED_TABLES = """() => [...document.querySelectorAll('main table')].filter(t => {
  if (getComputedStyle(t).display !== 'table') return false;  // stacked, or itself a scroller
  if (t.scrollWidth <= t.parentElement.clientWidth + 1) return false;  // fits
  for (let p = t.parentElement; p; p = p.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return false;
  }
  return true;
}).map(t => t.outerHTML.slice(0, 80))"""

# Words (in table cells) that the browser split over two lines: their range has two boxes.
BROKEN_WORDS = """t => {
  const out = [];
  const walker = document.createTreeWalker(t, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const m of node.data.matchAll(/\\S{2,}/g)) {
      const r = document.createRange();
      r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out;
}"""


@pytest.fixture
def demo(demo, live_app):
    with live_app.app_context():
        session_id = db.session.scalars(select(TrainingSession.id)).first()
        course_id = next(
            c.id
            for c in db.session.scalars(select(Course))
            if TABLE_MODULE in [m.slug for m in c.modules]
        )
    return {"session": session_id, "course": course_id}


def test_staff_pages_fit_a_360px_phone(live_app, browser, demo, sign_in):
    base = live_app.config["LIVE_URL"]
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="id-ID", timezone_id="Asia/Makassar"
    )
    page = context.new_page()
    sign_in(page, "admin", "demo-admin-2029", base=base)
    paths = [
        "/sesi",
        f"/sesi/{demo['session']}",
        "/ruang-kerja/",
        "/laporan",
        f"/kursus/{demo['course']}/modul/{TABLE_MODULE}",
    ]
    for path in paths:
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        assert page.evaluate(UNCONTAINED_TABLES) == [], path

    # the session list and the invitees are one card per row, each value with its column name
    page.goto(base + f"/sesi/{demo['session']}")
    row = page.locator(".mark-form tbody tr", has_text="Muh. Rizal Pratama")
    box = row.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    label = row.locator("td[data-label=Jabatan]").evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert label == '"Jabatan"'

    # the report's wide table scrolls inside its box, and the phone is told so
    page.goto(base + "/laporan")
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")
    assert page.get_by_text("Geser tabel ke samping").first.is_visible()

    # module tables keep whole words: no cell is narrower than its longest word
    page.goto(base + f"/kursus/{demo['course']}/modul/{TABLE_MODULE}")
    table = page.locator("article.prose table").first
    table.scroll_into_view_if_needed()
    broken = table.evaluate(BROKEN_WORDS)
    assert broken == [], "words split over two lines"
    assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"
    ARTIFACTS.mkdir(exist_ok=True)
    table.screenshot(path=str(ARTIFACTS / "module-table-360.png"))
    # the table of contents is folded on the phone (the text comes first) …
    assert page.locator("details.toc").evaluate("d => d.open") is False
    context.close()

    # … and open on a laptop
    wide = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID")
    page = wide.new_page()
    sign_in(page, "admin", "demo-admin-2029", base=base)
    page.goto(base + f"/kursus/{demo['course']}/modul/{TABLE_MODULE}")
    assert page.locator("details.toc").evaluate("d => d.open") is True
    wide.close()


@pytest.mark.parametrize("size", [(1024, 768), (1280, 800)])
def test_projector_shows_code_and_qr_side_by_side(live_app, browser, demo, size, sign_in):
    width, height = size
    base = live_app.config["LIVE_URL"]
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="id-ID", timezone_id="Asia/Makassar"
    )
    page = context.new_page()
    sign_in(page, "pelatih", "demo-pelatih-2029", base=base)
    page.goto(base + f"/sesi/{demo['session']}/proyektor")
    code = page.locator("#kode").bounding_box()
    qr = page.locator(".projector-qr svg").bounding_box()
    for box in (code, qr):
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    # side by side: the code left of the QR, on the same row
    assert code["x"] + code["width"] <= qr["x"]
    assert code["y"] < qr["y"] + qr["height"] and qr["y"] < code["y"] + code["height"]
    assert qr["width"] >= 250, "the QR is big enough to scan from the back of the hall"
    assert page.locator("nav.mainnav").count() == 0
    assert page.get_by_role("link", name="Laporan").count() == 0
    assert page.get_by_text("setiap 45 detik").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"projector-{width}x{height}.png"))
    context.close()
