"""Markdown to sanitised HTML. Rendered once per module version, never per request."""

import functools
import html
import threading
from dataclasses import dataclass

import markdown
import nh3

ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code",
    "ul", "ol", "li", "dl", "dt", "dd", "strong", "em", "b", "i", "del", "ins", "sup", "sub",
    "abbr", "table", "thead", "tbody", "tr", "th", "td", "a", "div", "span",
}  # fmt: skip
_HEADING_ATTRS = {"id"}
ALLOWED_ATTRIBUTES = {
    **{f"h{level}": _HEADING_ATTRS for level in range(1, 7)},
    "a": {"href", "title", "id"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "li": {"id"},
    "sup": {"id"},
    "div": set(),
}
ALLOWED_CLASSES = {
    "div": {"footnote"},
    "a": {"footnote-ref", "footnote-backref"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[dict]  # [{"level": 2, "id": "...", "name": "..."}]


def _url_scheme(value: str) -> str:
    """The scheme a browser would see: WHATWG URL parsing drops tabs and newlines
    anywhere and control characters and spaces at the ends, so "jav&#9;ascript:" is
    javascript:."""
    cleaned = "".join(ch for ch in value if ch not in "\t\n\r").strip("\x00- ").lower()
    head, sep, _rest = cleaned.partition(":")
    if not sep or any(ch in head for ch in "/?#"):
        return ""  # relative URL or fragment
    return head


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src") and _url_scheme(value) not in ("", *URL_SCHEMES):
        return None
    return value


def sanitise(fragment: str) -> str:
    """Allowlist sanitiser: no script, no event handlers, no javascript:/data: URLs."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_filter_attribute,
    )


def _new_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        # "extra" spelled out, so the tables extension takes its configuration.
        extensions=[
            "abbr",
            "attr_list",
            "def_list",
            "fenced_code",
            "footnotes",
            "md_in_html",
            "tables",
            "toc",
            "sane_lists",
        ],  # fmt: skip
        extension_configs={
            "toc": {"toc_depth": "2-3", "permalink": False},
            # align="" instead of style="": our CSP allows no inline style.
            "tables": {"use_align_attribute": True},
        },
        output_format="html",
    )


def _flatten(tokens: list[dict]) -> list[dict]:
    flat = []
    for token in tokens:
        flat.append(
            {"level": token["level"], "id": token["id"], "name": html.unescape(token["name"])}
        )
        flat.extend(_flatten(token.get("children", [])))
    return flat


_local = threading.local()


def _markdown() -> markdown.Markdown:
    """One parser per thread, reset between documents (building one costs more than a page)."""
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = _new_markdown()
    return md.reset()


def render_markdown(source: str) -> Rendered:
    md = _markdown()
    body = md.convert(source)
    toc = [t for t in _flatten(md.toc_tokens) if t["level"] in (2, 3)]
    return Rendered(html=sanitise(body), toc=toc)


@functools.lru_cache(maxsize=8192)
def render_inline(source: str) -> str:
    """Short Markdown (question stems, explanations), sanitised, without a TOC. Kept per text:
    a bank is read again on every sync and every upload, mostly unchanged."""
    return render_markdown(source).html
