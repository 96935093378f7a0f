"""No input makes a route answer 500 (issue 12 §2).

The test walks the URL map and, signed in as a role that may reach each route, sends the
classic bad values: ids beyond 64 bits, negative ids, NUL bytes, invalid UTF-8, 1 MB fields,
JSON of the wrong shape, missing fields. Forms are found the way a browser finds them: every
page reachable with real ids (the demo data) is read and each <form method="post"> gives its
action and its fields with their current values; one field at a time is then replaced by a bad
value. Any 500 fails the test with the route, the value and the exception.
"""

import inspect
import json
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import got_request_exception
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from bimtek.extensions import db

ROOT = Path(__file__).resolve().parent.parent

HUGE = "99999999999999999999"  # 20 digits: beyond 64-bit integers
JUST_BEYOND = "9223372036854775808"  # 2**63
BEYOND_INT4 = "2147483648"  # 2**31: ids are INTEGER columns
INVALID_UTF8 = b"\xff\xfe\xc3("  # bytes, sent raw: the body/query is built by hand

ALWAYS = [HUGE, "a\x00b"]  # every field gets these, and two of the rest
FIELD_VALUES = [
    "-" + HUGE,
    JUST_BEYOND,
    BEYOND_INT4,
    "-1",
    INVALID_UTF8,
    "",
    "1" * 1_000_000,  # 1 MB of digits
    "[]",
    "ÿ" * 300,
]
ARG_VALUES = [HUGE, "-" + BEYOND_INT4, "a\x00b", INVALID_UTF8, "1" * 10_000]
JSON_BODIES = [
    [],
    [1, 2, 3],
    "teks",
    42,
    None,
    {"position": HUGE, "selected": "a"},
    {"position": 10**20, "selected": ["a\x00"]},
    {"position": -1, "selected": [[[]]]},
    {"position": 1, "selected": {"a": 1}},
    {"position": "1", "selected": None},
    {"position": 1.5, "selected": ["a"] * 1000},
]
DEEP_JSON = "[" * 100_000 + "]" * 100_000
# Every POST passes through web.py's one JSON check before its view; a view that reads the body
# itself (quiz.js's answer save) gets every shape, the others one valid object and DEEP_JSON.
FEW_JSON_BODIES = [JSON_BODIES[5]]
DESTRUCTIVE = ("logout", "delete", "discard", "deactivate", "revoke", "hapus")


class _Forms(HTMLParser):
    """Every <form method="post">: its action and its fields as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._fields = None
        self._select = None
        self._select_value = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._fields = []
            self.forms.append((attrs.get("action") or "", self._fields))
        if self._fields is None or "name" not in attrs and tag != "option":
            return
        name = attrs.get("name")
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._fields.append((name, attrs.get("value") or "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._fields.append((name, attrs.get("value") or ""))
            elif kind == "submit" and attrs.get("value"):
                self._fields.append((name, attrs["value"]))
        elif tag == "button" and attrs.get("value"):
            self._fields.append((name, attrs["value"]))
        elif tag == "textarea":
            self._textarea = name
            self._fields.append((name, ""))
        elif tag == "select":
            self._select, self._select_value = name, None
        elif tag == "option" and self._select:
            if self._select_value is None or "selected" in attrs:
                self._select_value = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "select" and self._select and self._fields is not None:
            if self._select_value is not None:
                self._fields.append((self._select, self._select_value))
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self._fields:
            name, value = self._fields[-1]
            self._fields[-1] = (name, value + data)


def parse_forms(html: str):
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _names_read_in_code() -> set[str]:
    """Parameters the views read straight from request.args / request.form."""
    pattern = re.compile(r"request\.(?:args|form)\.(?:get|getlist)\(\s*\"([a-z_0-9]+)\"")
    names = set()
    for path in (ROOT / "bimtek").rglob("*.py"):
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def _encode(pairs) -> bytes:
    return urlencode(
        [(k, v.encode() if isinstance(v, str) else v) for k, v in pairs], doseq=False
    ).encode("ascii")


def _real_ids(app, peserta_login):
    from bimtek.accounts.models import User
    from bimtek.attendance.models import TrainingSession
    from bimtek.learning.models import Course, CourseModule, Module
    from bimtek.quiz.models import Attempt, Question, Quiz

    with app.app_context():
        first = lambda model: db.session.scalars(select(model.id).order_by(model.id)).first()  # noqa: E731
        other = db.session.scalars(
            select(User.id).where(User.role == "peserta", User.nik != peserta_login)
        ).first()
        slug = db.session.scalars(
            select(Module.slug)
            .join(CourseModule, CourseModule.module_id == Module.id)
            .where(CourseModule.course_id == first(Course))
        ).first()
        return {
            "course_id": first(Course),
            "quiz_id": first(Quiz),
            "session_id": first(TrainingSession),
            "attempt_id": first(Attempt) or 1,
            "user_id": other,
            "module_id": first(Module),
            "question_id": first(Question),
            "import_id": 1,
            "certificate_id": 1,
            "draft_id": 1,
            "material_id": 1,
            "job_id": 1,
            "imbauan_id": 1,
            "slug": slug,
            "kode": "73.22.01",
            "code": "tidak-ada",
            "name": "bimtek-cadangan-20260101-000000.tar.gz",
            "token": "tidak-ada-token-ini",
        }


def _fill(rule, values):
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), path)
    return path


def test_no_route_answers_500(app, demo, auth, post_form):
    started = time.monotonic()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the 500 handler answers, as in production
    app.config["RATELIMIT_ENABLED"] = False  # the login form is fuzzed many times
    errors: list = []
    got_request_exception.connect(
        lambda sender, exception, **kw: errors.append(exception), app, weak=False
    )
    rng = random.Random(12)
    logins: dict = {}
    for role, login, pw in demo:  # the first of each role: Luwu Utara's
        logins.setdefault(role.split(" ")[0], (login, pw))
    clients = {}
    for role in ("admin", "pelatih", "peserta"):
        client = app.test_client()
        login, password = logins[role]
        response = post_form(client, "/login", {"username": login, "password": password})
        assert response.status_code == 302, role
        clients[role] = client
    clients["anon"] = app.test_client()

    # A real attempt so /ujian/<id> routes reach their views.
    peserta = clients["peserta"]
    ids = _real_ids(app, logins["peserta"][0])
    home = peserta.get(f"/kursus/{ids['course_id']}").get_data(as_text=True)
    for action, fields in parse_forms(home):
        if "/mulai" in action:
            peserta.post(action, data=dict(fields))
            break
    ids = _real_ids(app, logins["peserta"][0])

    token_re = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    tokens = {}
    for role, client in clients.items():
        page = client.get("/" if role != "anon" else "/login").get_data(as_text=True)
        tokens[role] = token_re.search(page).group(1)

    found: list[str] = []
    requests = 0

    def check(response, role, method, path, what):
        nonlocal requests
        requests += 1
        if response.status_code >= 500:
            cause = repr(errors[-1])[:160] if errors else "?"
            found.append(f"{role} {method} {path[:80]} {what}: {response.status_code} {cause}")
        errors.clear()
        return response

    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    rules.sort(key=lambda r: any(word in r.endpoint for word in DESTRUCTIVE))
    arg_names = sorted(_names_read_in_code())

    # 1. GET every page with real ids as every role: who may see it, and its forms.
    allowed: dict[str, str] = {}
    forms: dict[str, tuple[str, list]] = {}
    for rule in rules:
        if "GET" not in rule.methods:
            continue
        path = _fill(rule, ids)
        for role in ("admin", "pelatih", "peserta", "anon"):
            response = check(clients[role].get(path), role, "GET", path, "real ids")
            if response.status_code == 200:
                allowed[rule.endpoint] = role
                if "html" in response.content_type:
                    for action, fields in parse_forms(response.get_data(as_text=True)):
                        forms.setdefault(urlsplit(action or path).path, (role, fields))
                break

    # 2. Bad path values and bad query parameters.
    for rule in rules:
        for method in sorted(rule.methods & {"GET", "POST"}):
            role = allowed.get(rule.endpoint) or forms.get(_fill(rule, ids), ("admin",))[0]
            client = clients[role]
            for name, converter in rule._converters.items():
                numeric = isinstance(converter, IntegerConverter)
                for bad in [HUGE, BEYOND_INT4] if numeric else ["a%00b", "%FF%FE", "x" * 5000]:
                    path = _fill(rule, {**ids, name: bad})
                    data = {"csrf_token": tokens[role]} if method == "POST" else None
                    check(client.open(path, method=method, data=data), role, method, path, bad)
            if method == "GET":
                path = _fill(rule, ids)
                for bad in ARG_VALUES:
                    query = _encode([(n, bad) for n in arg_names]).decode()
                    check(client.get(f"{path}?{query}"), role, "GET", path, f"args={bad!r:.20}")

    # 3. Every POST: only the token, JSON of every shape, then one field at a time made bad.
    for rule in rules:
        if "POST" not in rule.methods:
            continue
        path = _fill(rule, ids)
        if rule.endpoint == "accounts.logout":
            continue
        if path in forms:
            role, fields = forms[path]
            roles = [role]
        else:  # no page shows this form: the first role the route does not refuse
            roles, fields = ["admin", "pelatih", "peserta"], []
        for role in roles:
            response = clients[role].post(path, data={"csrf_token": tokens[role]})
            check(response, role, "POST", path, "token only")
            if response.status_code not in (403, 404):
                break
        client, token = clients[role], tokens[role]
        reads_json = "get_json" in inspect.getsource(app.view_functions[rule.endpoint])
        for body in [*(JSON_BODIES if reads_json else FEW_JSON_BODIES), DEEP_JSON]:
            payload = body if isinstance(body, str) and body.startswith("[[") else json.dumps(body)
            check(
                client.post(
                    path,
                    data=payload,
                    content_type="application/json",
                    headers={"X-CSRFToken": token},
                ),
                role,
                "POST",
                path,
                f"json={payload[:30]!r}",
            )
        baseline = [(k, v) for k, v in fields if k != "csrf_token"]
        names = list(dict.fromkeys(k for k, _ in baseline)) or arg_names
        for name in names:
            for bad in ALWAYS + rng.sample(FIELD_VALUES, 1):
                pairs = [(k, v) for k, v in baseline if k != name] + [(name, bad)]
                body = _encode([("csrf_token", token), *pairs])
                response = client.post(
                    path, data=body, content_type="application/x-www-form-urlencoded"
                )
                check(response, role, "POST", path, f"{name}={bad!r:.24}")

    elapsed = time.monotonic() - started
    assert not found, f"{len(found)} answers of 500:\n" + "\n".join(found)
    print(f"fuzz: {requests} requests in {elapsed:.0f} s")
