"""The Markdown pipeline against public XSS payload lists (tests/data/security-corpus)."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from bimtek.content.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown
from tests.conftest import CORPUS

LINE_FILES = [
    "xss_rsnake.txt",
    "xss_polyglots.txt",
    "xss_brutelogic_strings.txt",
    "xss_owasp_filter_evasion.txt",
    "markdown_xss_patt.txt",
]


def _payloads() -> list[tuple[str, str]]:
    payloads = []
    for name in LINE_FILES:
        path = CORPUS / name
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                payloads.append((f"{name}:{number}", line))
    fixture = CORPUS / "markdown_it_xss_fixture.txt"
    if fixture.exists():
        # Blocks: description, '.', input, '.', expected, '.'
        blocks = fixture.read_text(encoding="utf-8").split("\n.\n")
        for index in range(1, len(blocks), 3):
            payloads.append((f"markdown_it_xss_fixture.txt#{index}", blocks[index]))
    return payloads


PAYLOADS = _payloads()


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


def assert_safe(html: str) -> None:
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.elements:
        assert tag in ALLOWED_TAGS, f"tag <{tag}> survived: {html!r}"
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"class", "rel"}
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name} survived: {html!r}"
            assert name in allowed, f"attribute {name} on <{tag}> survived: {html!r}"
            if name == "href" and value:
                cleaned = "".join(ch for ch in value if ch > " ").lower()
                scheme = urlsplit(cleaned).scheme
                assert scheme in ("", "http", "https", "mailto"), f"href {value!r} survived"


def test_corpus_is_present():
    assert len(PAYLOADS) > 250, "tests/data/security-corpus is missing or was truncated"


@pytest.mark.parametrize(("origin", "payload"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_payload_is_neutralised(origin, payload):
    html = render_markdown(payload).html
    assert_safe(html)
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered


def test_attr_list_cannot_smuggle_event_handlers():
    html = render_markdown('## Judul {: onclick="alert(1)" style="color:red" }\n\nteks').html
    assert "onclick" not in html and "style" not in html
    assert "<h2" in html and "Judul" in html


def test_links_keep_safe_schemes_and_get_noopener():
    html = render_markdown("[KPU](https://www.kpu.go.id) [x](javascript:alert(1))").html
    assert 'href="https://www.kpu.go.id"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "javascript:" not in html


def test_tables_headings_and_footnotes_render():
    source = (
        "# Judul\n\n## Prinsip jujur\n\nTeks.[^1]\n\n### Contoh\n\n"
        "| Boleh | Tidak boleh |\n|:---|---:|\n| a | b |\n\n[^1]: Peraturan DKPP 2/2017 Pasal 9.\n"
    )
    rendered = render_markdown(source)
    assert '<h2 id="prinsip-jujur">' in rendered.html
    assert "<table>" in rendered.html and 'align="right"' in rendered.html
    assert "style=" not in rendered.html  # CSP forbids inline style
    assert 'class="footnote"' in rendered.html
    assert [t["name"] for t in rendered.toc] == ["Prinsip jujur", "Contoh"]


def test_toc_names_are_plain_text():
    rendered = render_markdown("## Boleh & tidak <b>boleh</b>\n")
    assert rendered.toc[0]["name"] == "Boleh & tidak boleh"


def test_toc_nests_subsections_under_their_section():
    from bimtek.learning.toc import nest_toc

    toc = render_markdown("## A\n\n### A1\n\n### A2\n\n## B\n").toc
    tree = nest_toc(toc)
    assert [t["name"] for t in tree] == ["A", "B"]
    assert [c["name"] for c in tree[0]["children"]] == ["A1", "A2"]
