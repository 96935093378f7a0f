"""A module page's table of contents, from the flat h2/h3 list a rendered version stores."""

# A section with one of these titles already lists the sources.
SOURCES_HEADINGS = ("sumber", "dasar hukum", "referensi", "daftar pustaka")


def has_sources_section(toc: list[dict]) -> bool:
    """The module's text has its own "## Sumber" (or "Dasar hukum …") section, so the page
    need not list the front matter's sources a second time."""
    return any(
        item["level"] == 2 and item["name"].strip().lower().startswith(SOURCES_HEADINGS)
        for item in toc
    )


def nest_toc(toc: list[dict]) -> list[dict]:
    """Flat h2/h3 entries -> h2 entries with their h3 entries as children."""
    tree: list[dict] = []
    for item in toc:
        if item["level"] == 2 or not tree:
            tree.append({**item, "children": []})
        else:
            tree[-1]["children"].append(item)
    return tree
