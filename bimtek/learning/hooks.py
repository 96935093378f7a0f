"""What features built on courses add to the course and home pages, and what keeps a
participant out of the modules for now, without learning importing them (quiz and
certificates register here when their blueprints are registered)."""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    """A block of the course page: `template` rendered with `context` (as `ctx`) in `slot`:
    "before_modules", "after_modules" or "end"."""

    slot: str
    template: str
    context: dict = field(default_factory=dict)


# (course, user) -> [Panel]: blocks of the course page.
course_panels: list[Callable] = []
# (course, user) -> reason or None: why the participant may not open the modules yet.
module_gates: list[Callable] = []
# (course, user) -> (label, url, note) or None: the home page's next step, before the modules.
next_steps: list[Callable] = []
# (course, module, user) -> [(label, url)]: buttons under a module's text (e.g. its quiz).
module_links: list[Callable] = []
# (user) -> [(message, link label, url)]: warnings at the top of the home page (e.g. backups).
home_notices: list[Callable] = []


def register(hook: list, provider: Callable) -> None:
    """Once per process, however many apps register the providing blueprint (tests make many)."""
    if provider not in hook:
        hook.append(provider)


def panels_for(course, user) -> dict[str, list[Panel]]:
    slots: dict[str, list[Panel]] = {"before_modules": [], "after_modules": [], "end": []}
    for provide in course_panels:
        for panel in provide(course, user):
            slots[panel.slot].append(panel)
    return slots


def module_lock(course, user) -> str | None:
    return next((reason for gate in module_gates if (reason := gate(course, user))), None)


def links_under_module(course, module, user) -> list[tuple[str, str]]:
    return [link for provide in module_links for link in provide(course, module, user)]


def notices_for(user) -> list[tuple[str, str, str]]:
    return [notice for provide in home_notices for notice in provide(user)]


def next_step(course, user) -> tuple[str, str, str] | None:
    return next((step for provide in next_steps if (step := provide(course, user))), None)
