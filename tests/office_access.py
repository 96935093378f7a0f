"""Office boundaries on every route (issue 13, proof): route × {own office, sibling, parent,
child} × role, generated from the URL map, on SQLite and PostgreSQL — the machinery; the cells
run in test_office_access_sqlite.py and test_office_access_postgresql.py (one file per database,
so the two halves run on two test workers at once).

The world: the demo (KPU Provinsi Sulawesi Selatan above KPU Kabupaten Luwu Utara and KPU
Kabupaten Luwu Timur) plus one object of every kind owned by each office — participant, course,
quiz, attempt, session, certificate, import, job, module, question, draft, material — built once
per database for this file and restored (database and upload folder) after any request that
changed it.

Every rule of the URL map becomes cells: each URL parameter names an object kind through PARAMS
(a parameter missing there fails `test_every_route_parameter_has_a_kind`), each endpoint names
its roles in ROLES (missing: `test_every_route_has_roles`). A cell is one request — the rule's
method, the parameters filled with one office's objects, one signed-in actor — and its expected
answer follows from the rule of the issue:

- signed out: the sign-in page; a role the route is not for: 403;
- own office: allowed (neither 403 nor 404);
- sibling office: 404 for GET and POST, and nothing changed;
- parent (the province on a kabupaten's object): read allowed, a change 403, nothing changed;
- child (a kabupaten on the province's object): 404, except shared content (a module, its bank,
  a course offered down and what hangs off it): read allowed, a change 403;
- personal objects (an attempt, a pending import, a participant's certificate, a pelatih's
  job): only their person; anyone else 404.

POSTs carry the fields of the form the owner's own pages show for that action (with the
actor's CSRF token), so a missing check would really change something; a POST that is not
refused is followed by a comparison of every mutable table with the world as built.

Cells that fail on the branch as it stands are listed in KNOWN_GAPS: they are xfail, and a
listed cell that passes fails the suite ("remove it"), so the list stays exact as the fixes land.
"""

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine
from werkzeug.datastructures import MultiDict

from bimtek.accounts.models import User
from bimtek.extensions import db
from tests.conftest import CSRF_RE, _store, close_app, make_test_app
from tests.test_fuzz_routes import parse_forms
from tests.test_import import HEADER, person, xlsx

# --- the registry: URL parameter → object kind ------------------------------------------------

PARAMS = {
    "user_id": "participant",
    "session_id": "session",
    "course_id": "course",
    "quiz_id": "quiz",
    "attempt_id": "attempt",
    "certificate_id": "certificate",
    "import_id": "import",
    "job_id": "job",
    "module_id": "module",
    "question_id": "question",
    "draft_id": "draft",
    "material_id": "material",
    "slug": "slug",  # a module of the course, by its slug
    "kode": "region",  # a kecamatan (reports) or a kabupaten (wilayah) of the office
    "code": "public",  # certificate verification code: a public page
    "token": "public",  # one-time sign-in link: a public page
    "name": "backup",  # a backup archive of the whole deployment
    "imbauan_id": "imbauan",  # a circular of the office to every participant below it
}
# Where one parameter name means another kind on one route.
ENDPOINT_KINDS = {
    ("accounts.import_confirm", "import_id"): "pending_import",
    ("accounts.import_discard", "import_id"): "pending_import",
}
# Content an office offers to the offices below it (readable there, changed only by its owner).
SHARED = {"course", "quiz", "slug", "module", "question", "material"}

# --- who may use each route -------------------------------------------------------------------

PUBLIC, LOGIN = "public", "login"
ADMIN, STAFF, PESERTA = ("admin",), ("admin", "pelatih"), ("peserta",)
ROLES = {
    "learning.home": LOGIN,
    "learning.course": LOGIN,
    "learning.module": LOGIN,
    "learning.mark_completed": LOGIN,
    "learning.courses": ADMIN,
    "learning.course_new": ADMIN,
    "learning.course_edit": ADMIN,
    "learning.modules": STAFF,
    "accounts.login": PUBLIC,
    "accounts.token_sign_in": PUBLIC,
    "accounts.change_password": LOGIN,
    "accounts.participants": ADMIN,
    "accounts.participant_new": ADMIN,
    "accounts.participant_detail": ADMIN,
    "accounts.participant_edit": ADMIN,
    "accounts.participant_reset_password": ADMIN,
    "accounts.participant_deactivate": ADMIN,
    "accounts.participant_reactivate": ADMIN,
    "accounts.participant_unlock": ADMIN,
    "accounts.import_template": ADMIN,
    "accounts.import_upload": ADMIN,
    "accounts.import_detail": ADMIN,
    "accounts.import_confirm": ADMIN,
    "accounts.import_discard": ADMIN,
    "accounts.import_credentials": ADMIN,
    "healthz": PUBLIC,
    "backup.index": ADMIN,
    "backup.create": ADMIN,
    "backup.download": ADMIN,
    "quiz.analysis": STAFF,
    "quiz.quiz_edit": ADMIN,
    "quiz.course_quizzes": STAFF,
    "quiz.quiz_new": ADMIN,
    "quiz.start": LOGIN,
    "quiz.begin": LOGIN,
    "quiz.take": LOGIN,
    "quiz.submit_form": LOGIN,
    "quiz.result": LOGIN,
    "quiz.save": LOGIN,
    "certificates.rule": ADMIN,
    "certificates.preview": ADMIN,
    "certificates.kecamatan_zip": ADMIN,
    "certificates.issue_bulk": ADMIN,
    "certificates.detail": ADMIN,
    "certificates.revoke": ADMIN,
    "certificates.reissue": ADMIN,
    "certificates.settings_preview": ADMIN,
    "certificates.verify": PUBLIC,
    "certificates.confirm_pakta": PESERTA,
    "certificates.mine": LOGIN,
    "certificates.download": LOGIN,
    "settings.edit": ADMIN,
    "wilayah.overview": ADMIN,
    "wilayah.kabupaten": ADMIN,
    "attendance.checkin": LOGIN,
    "attendance.checkin_post": LOGIN,
    "attendance.sessions": LOGIN,
    "attendance.session": LOGIN,
    "attendance.session_new": STAFF,
    "attendance.session_edit": STAFF,
    "attendance.session_delete": STAFF,
    "attendance.refresh_invites": STAFF,
    "attendance.mark": STAFF,
    "attendance.projector": STAFF,
    "attendance.daftar_hadir": STAFF,
    "attendance.daftar_hadir_xlsx": STAFF,
    "attendance.attendance_export": STAFF,
    "evaluation.fill": PESERTA,
    "evaluation.submit": PESERTA,
    "evaluation.results": STAFF,
    "evaluation.results_xlsx": STAFF,
    "reports.dashboard": STAFF,
    "reports.region": STAFF,
    "offices.index": ADMIN,
    "imbauan.mine": LOGIN,
    "imbauan.read": LOGIN,
    "imbauan.confirm": LOGIN,
    "imbauan.index": ADMIN,
    "imbauan.new": ADMIN,
    "imbauan.edit": ADMIN,
    "imbauan.publish": ADMIN,
    "imbauan.detail": ADMIN,
    "imbauan.receipts_xlsx": ADMIN,
    "reports.kecamatan": STAFF,
    "reports.participant": STAFF,
    "reports.rekap_xlsx": STAFF,
    "reports.rekap_zip": STAFF,
    "jobs.index": LOGIN,
    "jobs.detail": LOGIN,
    "jobs.download": LOGIN,
    "jobs.cancel": STAFF,
    "workspace.home": STAFF,
    "workspace.draft_edit": STAFF,
    "workspace.draft_discard": STAFF,
    "workspace.course_materials": STAFF,
    "workspace.material": LOGIN,
    "workspace.material_delete": STAFF,
    "workspace.diff": STAFF,
    "workspace.module_export": STAFF,
    "workspace.module_material_upload": STAFF,
    "workspace.bank": STAFF,
    "workspace.question_new": STAFF,
    "workspace.bank_export_xlsx": STAFF,
    "workspace.bank_export_yaml": STAFF,
    "workspace.bank_import": STAFF,
    "workspace.bank_apply": STAFF,
    "workspace.module_edit": STAFF,
    "workspace.module_upload": STAFF,
    "workspace.versions": STAFF,
    "workspace.module_new": STAFF,
    "workspace.module_upload_new": STAFF,
    "workspace.preview": STAFF,
    "workspace.question_retire": STAFF,
    "workspace.question_edit": STAFF,
    "workspace.bank_template_xlsx": STAFF,
}
# Not generated, with the reason (each still needs its ROLES entry).
EXEMPT = {
    "static": "files, no data",
    "accounts.logout": "ends the actor's session (tested in test_auth)",
}
# Routes over the whole deployment, not one office: only an admin whose reach is everything.
DEPLOYMENT_WIDE = {"backup.index", "backup.create", "backup.download"}
# POSTs that read (exports offered as files or jobs, a preview) and POSTs by which a person
# takes part (progress, answers, check-in): neither changes the object they name.
READ_POSTS = {
    "reports.rekap_xlsx",
    "reports.rekap_zip",
    "attendance.daftar_hadir_xlsx",
    "attendance.attendance_export",
    "certificates.kecamatan_zip",
    "workspace.preview",
    "certificates.settings_preview",
}
PARTICIPATION = {
    "learning.mark_completed",
    "quiz.begin",
    "quiz.save",
    "quiz.submit_form",
    "certificates.confirm_pakta",
    "evaluation.submit",
    "attendance.checkin_post",
}
# Pages (GET) that are forms to change their object: an office that may only read it is refused
# the form as it would be refused the POST (403).
CHANGE_FORMS = {
    "accounts.participant_edit",
    "accounts.participant_deactivate",
    "accounts.participant_reset_password",
    "attendance.session_edit",
    "certificates.rule",
    "learning.course_edit",
    "quiz.quiz_edit",
    "quiz.quiz_new",
    "workspace.module_edit",
    "workspace.question_edit",
    "workspace.question_new",
    "workspace.draft_edit",
    "imbauan.edit",
}
# Query strings a page needs to show its object (filled from the owner's objects).
QUERY = {
    "certificates.preview": "kecamatan={kecamatan}",
    "certificates.kecamatan_zip": "kecamatan={kecamatan}",
    "workspace.diff": "dari=1&ke=1",
}

# Fields a route reads that no page's form carries (quiz.js posts one answer at a time).
EXTRA_FIELDS = {"quiz.save": [("position", "1"), ("selected", "a")]}

# --- offices, actors, the objects each office owns --------------------------------------------

LUTRA, LUTIM, SULSEL = "lutra", "lutim", "sulsel"  # Luwu Utara, Luwu Timur, Sulawesi Selatan
OFFICE_KODE = {LUTRA: "73.22", LUTIM: "73.24", SULSEL: "73"}
PARENT = {LUTRA: SULSEL, LUTIM: SULSEL, SULSEL: None}
KECAMATAN = {LUTRA: "73.22.01", LUTIM: "73.24.04", SULSEL: "73.22.01"}


@dataclass(frozen=True)
class Actor:
    login: str
    password: str
    role: str
    office: str


PESERTA_PASSWORD = "demo-peserta-2029"
ACTORS = {
    "anon": None,
    "admin": Actor("admin", "demo-admin-2029", "admin", LUTRA),
    "pelatih": Actor("pelatih", "demo-pelatih-2029", "pelatih", LUTRA),
    "peserta": Actor("7322011203950002", PESERTA_PASSWORD, "peserta", LUTRA),  # owns lutra's
    "peserta2": Actor("7322014107900001", PESERTA_PASSWORD, "peserta", LUTRA),  # same office
    "admin-lutim": Actor("admin-lutim", "demo-lutim-2029", "admin", LUTIM),
    "peserta-lutim": Actor("7324046302910004", PESERTA_PASSWORD, "peserta", LUTIM),
    "admin-sulsel": Actor("admin-sulsel", "demo-sulsel-2029", "admin", SULSEL),
    "pelatih-sulsel": Actor("pelatih-sulsel", "rahasia-pelatih-sulsel-1", "pelatih", SULSEL),
}
# Whose objects these are: the office's admin (imports, jobs) and participant (attempts,
# certificates); a province has no participants of its own.
OWNER_ADMIN = {LUTRA: "admin", LUTIM: "admin-lutim", SULSEL: "admin-sulsel"}
OWNER_PESERTA = {LUTRA: "peserta", LUTIM: "peserta-lutim"}
OWNER_TRAINER = {LUTRA: "pelatih", SULSEL: "pelatih-sulsel"}  # Luwu Timur's is run by its admin
# Who is invited to each office's session (the province's invites both kabupaten).
INVITED = {
    LUTRA: {"peserta", "peserta2"},
    LUTIM: {"peserta-lutim"},
    SULSEL: {"peserta", "peserta2", "peserta-lutim"},
}
# Which offices own an object of each kind (a province has no participants, so none of theirs).
OWNERS = {
    "participant": (LUTRA, LUTIM),
    "attempt": (LUTRA, LUTIM),
    "certificate": (LUTRA, LUTIM),
    "region": (LUTRA, LUTIM),
}
ALL_OWNERS = (LUTRA, LUTIM, SULSEL)
INVITE_KECAMATAN = {LUTIM: ["73.24.04"], SULSEL: ["73.22.01", "73.24.04"]}

LOGIN_PAGE, FORBIDDEN, NOT_FOUND, ALLOWED, NO_ERROR = "login", 403, 404, "allowed", "no 5xx"


def relation(actor_office: str, owner: str) -> str:
    if actor_office == owner:
        return "own"
    if PARENT.get(owner) == actor_office:
        return "parent"
    if PARENT.get(actor_office) == owner:
        return "child"
    return "sibling"


def expected(endpoint: str, method: str, kinds: set[str], actor: str, owner: str | None):
    """The answer the issue's rule gives this cell."""
    roles = ROLES[endpoint]
    if roles == PUBLIC:
        return NO_ERROR
    who = ACTORS[actor]
    if who is None:
        return LOGIN_PAGE
    if roles != LOGIN and who.role not in roles:
        return FORBIDDEN
    if endpoint == "offices.index" and method == "POST":
        # Adding an office below: only an office that has levels below it (a province, KPU RI).
        return ALLOWED if PARENT[who.office] is None else FORBIDDEN
    if endpoint in DEPLOYMENT_WIDE:
        return ALLOWED if PARENT[who.office] is None else FORBIDDEN
    if owner is None:
        return ALLOWED
    changes = (
        method == "POST" and endpoint not in READ_POSTS | PARTICIPATION
    ) or endpoint in CHANGE_FORMS
    # Personal objects: their person only.
    if "attempt" in kinds:
        return ALLOWED if OWNER_PESERTA.get(owner) == actor else NOT_FOUND
    if "pending_import" in kinds:
        return ALLOWED if OWNER_ADMIN[owner] == actor else NOT_FOUND
    if "imbauan" in kinds and endpoint in ("imbauan.read", "imbauan.confirm"):
        # Addressed to the participants below its office: staff are no recipients.
        if who.role != "peserta":
            return NOT_FOUND
        return ALLOWED if owner in (who.office, PARENT[who.office]) else NOT_FOUND
    if who.role == "peserta":
        if "certificate" in kinds:
            return ALLOWED if OWNER_PESERTA.get(owner) == actor else NOT_FOUND
        if "session" in kinds:
            return ALLOWED if actor in INVITED[owner] else NOT_FOUND
        if "job" in kinds:
            return NOT_FOUND
        # Courses and what hangs off them: their own office's and those offered down.
        return ALLOWED if owner in (who.office, PARENT[who.office]) else NOT_FOUND
    if who.role == "pelatih":
        if "session" in kinds:  # what the office assigns: the sessions they run
            return ALLOWED if OWNER_TRAINER.get(owner) == actor else NOT_FOUND
        if "job" in kinds or "certificate" in kinds:  # someone else's
            return NOT_FOUND
    if "job" in kinds:  # a job and its file: its starter and the admins of its office only
        return ALLOWED if who.office == owner else NOT_FOUND
    if endpoint == "certificates.issue_bulk":
        # The participants' own kabupaten/kota issues, also for a course offered down to it; a
        # province has no participants of its own and issues nothing.
        if PARENT[who.office] is None:
            return FORBIDDEN
        return ALLOWED if relation(who.office, owner) in ("own", "child") else NOT_FOUND
    where = relation(who.office, owner)
    if where == "own":
        return ALLOWED
    if where == "sibling":
        return NOT_FOUND
    if where == "parent":
        return FORBIDDEN if changes else ALLOWED
    # child: the province's object
    if kinds <= SHARED:
        return FORBIDDEN if changes else ALLOWED
    return NOT_FOUND


# --- cells from the URL map -------------------------------------------------------------------


def _url_map():
    app = make_test_app("sqlite://")
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    close_app(app)
    return rules


RULES = _url_map()


def kind_of(endpoint: str, param: str) -> str | None:
    return ENDPOINT_KINDS.get((endpoint, param), PARAMS.get(param))


@dataclass(frozen=True)
class Cell:
    endpoint: str
    rule: str
    method: str
    params: tuple[tuple[str, str], ...]  # (parameter, kind)
    actor: str
    owner: str | None

    @property
    def key(self) -> tuple:
        return (self.endpoint, self.method, self.actor, self.owner)

    def __str__(self) -> str:
        return f"{self.endpoint}-{self.method}-{self.actor}-{self.owner or 'none'}"


def _cells() -> list[Cell]:
    cells = []
    for rule in RULES:
        if rule.endpoint in EXEMPT or rule.endpoint not in ROLES:
            continue
        kinds = {a: kind_of(rule.endpoint, a) for a in rule.arguments}
        if None in kinds.values():
            continue  # test_every_route_parameter_has_a_kind fails
        params = tuple(sorted(kinds.items()))
        object_kinds = {k for k in kinds.values() if k not in ("public", "backup")}
        if object_kinds:
            owners = [o for o in ALL_OWNERS if all(o in OWNERS.get(k, ALL_OWNERS) for k in object_kinds)]  # fmt: skip
        else:
            owners = [None]
        for method in sorted(rule.methods & {"GET", "POST"}):
            for actor in ACTORS:
                for owner in owners:
                    # A refused role is refused before any object is read: one owner suffices.
                    refused = expected(rule.endpoint, method, set(kinds.values()), actor, None)
                    if owner not in (None, owners[0]) and refused in (LOGIN_PAGE, FORBIDDEN):
                        continue
                    cells.append(Cell(rule.endpoint, rule.rule, method, params, actor, owner))
    return cells


CELLS = _cells()


# --- the world --------------------------------------------------------------------------------

SNAPSHOT = "office_access"
# Tables whose rows the world's requests never change (read once, compared by count).
# Statements that may change a row (SQLAlchemy's and the app's own SQL; WITH … INSERT/UPDATE).
WRITING = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "MERGE", "TRUNCAT")
STATIC_TABLES = {"provinsi", "kabupaten", "kecamatan", "desa", "module_version", "question_version"}


def _clone(obj, **overrides):
    """A copy of a mapped row (new id), with some columns replaced."""
    columns = {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs if c.key != "id"}
    return type(obj)(**{**columns, **overrides})


def _copy_module(source, slug: str, title: str, office_id: int):
    """A module of another office: the source's current text and its question bank."""
    from bimtek.learning.service import current_module_version
    from bimtek.quiz.models import Question

    module = _clone(source, slug=slug, title=title, office_id=office_id, current_version_no=1)
    db.session.add(module)
    db.session.flush()
    version = current_module_version(source)
    db.session.add(_clone(version, module_id=module.id, version_no=1, title=title))
    questions = db.session.scalars(
        select(Question).where(Question.module_id == source.id, Question.retired.is_(False))
    ).all()
    for question in questions:
        copy = _clone(question, qid=f"{question.qid}-{slug}"[:40], module_id=module.id)
        db.session.add(copy)
        db.session.flush()
        for qv in question.versions:
            db.session.add(_clone(qv, question_id=copy.id))
    db.session.flush()
    return module


def _build(app, upload_dir: Path) -> dict:
    """One object of every kind per office; returns {office: {kind: url value}}."""
    from bimtek.accounts.models import ParticipantImport, User
    from bimtek.accounts.service import create_staff
    from bimtek.attendance import service as attendance
    from bimtek.attendance.models import TrainingSession
    from bimtek.certificates import service as certificates
    from bimtek.demo import DEMO_COURSES, DEMO_SESSION_TITLE
    from bimtek.imbauan import service as imbauan_service
    from bimtek.jobs.models import Job
    from bimtek.jobs.service import jobs_dir
    from bimtek.learning.models import Course
    from bimtek.learning.service import save_course
    from bimtek.offices.models import Office
    from bimtek.quiz import service as quizzes
    from bimtek.quiz.models import Question, Quiz
    from bimtek.settings.service import use_office
    from bimtek.timeutil import utcnow
    from bimtek.workspace import drafts
    from bimtek.workspace.materials import stored_path
    from bimtek.workspace.models import Material

    now = utcnow()
    offices = {key: db.session.scalars(select(Office).where(Office.wilayah_kode == kode)).one()
               for key, kode in OFFICE_KODE.items()}  # fmt: skip
    office_id = {key: o.id for key, o in offices.items()}
    with use_office(office_id[SULSEL]):
        create_staff("pelatih", "pelatih-sulsel", "Narasumber Provinsi",
                     ACTORS["pelatih-sulsel"].password, office_id=office_id[SULSEL])  # fmt: skip
    db.session.flush()
    users = {}
    for name, who in ACTORS.items():
        if who is None:
            continue
        column = User.nik if who.role == "peserta" else User.username
        user = db.session.scalars(select(User).where(column == who.login)).one()
        user.must_change_password = False
        users[name] = user
    admins = {o: users[OWNER_ADMIN[o]] for o in ALL_OWNERS}

    course_1 = db.session.scalars(select(Course).where(Course.title == DEMO_COURSES[0][0])).one()
    source = course_1.modules[0]  # shipped content: the province's (the top office)
    with use_office(office_id[LUTRA]):
        modules = {LUTRA: _copy_module(source, "modul-lutra", "Modul Luwu Utara", office_id[LUTRA])}
    course_1.course_modules[0].module_id = modules[LUTRA].id
    courses = {LUTRA: course_1}
    for office, label in ((LUTIM, "Luwu Timur"), (SULSEL, "Sulawesi Selatan")):
        with use_office(office_id[office]):
            modules[office] = _copy_module(
                source, f"modul-{office}", f"Modul {label}", office_id[office]
            )
            courses[office] = save_course(
                None,
                title=f"Bimtek {label}",
                description="",
                audience=["PPK", "PPS", "KPPS"],
                hours_jp=2,
                module_ids=[modules[office].id],
                active=True,
                actor=admins[office],
            )
            courses[office].office_id = office_id[office]
            courses[office].offered_down = office == SULSEL  # the province offers its course
            quizzes.save_quiz(
                courses[office],
                None,
                quizzes.QuizSettings(kind="pre", title="Pre-test", draw_count=5,
                                     attempts_allowed=1, review_policy="score"),
                admins[office],
            )  # fmt: skip
    for course in courses.values():  # a pakta to confirm (confirm_pakta)
        course.pakta_text = "Saya akan menjaga kode etik penyelenggara pemilu."
    db.session.flush()
    quiz = {o: db.session.scalars(select(Quiz).where(Quiz.course_id == courses[o].id,
                                                     Quiz.kind == "pre")).first()
            for o in ALL_OWNERS}  # fmt: skip
    attempts = {o: quizzes.start_attempt(quiz[o], users[OWNER_PESERTA[o]]) for o in OWNER_PESERTA}

    sessions = {
        LUTRA: db.session.scalars(
            select(TrainingSession).where(TrainingSession.title == DEMO_SESSION_TITLE)
        ).one()
    }
    start = now.replace(microsecond=0) - timedelta(hours=1)
    for office, trainers in ((LUTIM, []), (SULSEL, [users["pelatih-sulsel"].id])):
        with use_office(office_id[office]):
            sessions[office] = attendance.save_session(
                None,
                attendance.SessionData(
                    course_id=courses[office].id,
                    title=f"Sesi {office}",
                    venue="Aula",
                    starts_at=start,
                    ends_at=start + timedelta(hours=8),
                    late_after_minutes=240,
                    invite_kecamatan=INVITE_KECAMATAN[office],
                    trainer_ids=trainers,
                ),
                admins[office],
            )  # fmt: skip
            sessions[office].office_id = office_id[office]
    sessions[LUTRA].starts_at, sessions[LUTRA].ends_at = start, start + timedelta(hours=8)
    db.session.flush()
    for office, session in sessions.items():
        attendance.sync_invites(session)
        invited = [users[name].id for name in sorted(INVITED[office])]
        attendance.mark(session, admins[office], invited, "hadir", None, now)

    certificate = {}
    for office, peserta in OWNER_PESERTA.items():
        with use_office(office_id[office]):
            certificate[office] = certificates.issue(
                courses[office], users[peserta], admins[office]
            )
            certificate[office].office_id = office_id[office]

    imports, jobs, draft, material = {}, {}, {}, {}
    jobs_dir().mkdir(parents=True, exist_ok=True)
    for office in ALL_OWNERS:
        admin = admins[office]
        imports[office] = ParticipantImport(
            admin_id=admin.id, office_id=office_id[office], filename="peserta.xlsx",
            sha256="0" * 64, status="committed", committed_at=now,
        )  # fmt: skip
        (jobs_dir() / f"hasil-{office}.xlsx").write_bytes(b"PK demo")
        jobs[office] = Job(
            kind="rekap", params={}, title=f"Rekap {office}", started_by_id=admin.id,
            status="done", created_at=now, finished_at=now, result_path=f"hasil-{office}.xlsx",
            result_name="rekap.xlsx", result_mime="application/octet-stream",
        )  # fmt: skip
        draft[office] = drafts.draft_from_version(modules[office])
        draft[office].updated_by_id = admin.id
        stored = f"{office:0<32}.pdf"
        path = stored_path(str(upload_dir), stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4\n%%EOF\n")
        material[office] = Material(
            module_id=modules[office].id, title=f"Materi {office}", original_name="materi.pdf",
            stored_name=stored, kind="pdf", size=path.stat().st_size, sha256="0" * 64,
            uploaded_by_id=admin.id,
        )  # fmt: skip
        db.session.add_all([imports[office], jobs[office], draft[office], material[office]])
    db.session.commit()
    imbauan = {}
    for office in ALL_OWNERS:
        values = imbauan_service.ImbauanValues(
            title=f"Imbauan netralitas {office}", body="Jaga **netralitas**.",
            audience=list(imbauan_service.BADAN), regions=[], confirmation_text="",
        )  # fmt: skip
        imbauan[office] = imbauan_service.create(
            offices[office], values, admins[office], publish=True
        )
    db.session.commit()

    objects = {}
    for office in ALL_OWNERS:
        question = db.session.scalars(
            select(Question.id)
            .where(Question.module_id == modules[office].id)
            .order_by(Question.id)
        ).first()
        objects[office] = {
            "course": courses[office].id,
            "quiz": quiz[office].id,
            "session": sessions[office].id,
            "import": imports[office].id,
            "job": jobs[office].id,
            "module": modules[office].id,
            "question": question,
            "draft": draft[office].id,
            "material": material[office].id,
            "imbauan": imbauan[office].id,
            "slug": modules[office].slug,
            "kecamatan": KECAMATAN[office],
            "public": "tidak-ada",
            "backup": "bimtek-cadangan-20260101-000000.tar.gz",
        }
        if office in OWNER_PESERTA:
            objects[office].update(
                participant=users[OWNER_PESERTA[office]].id,
                attempt=attempts[office].id,
                certificate=certificate[office].id,
            )
    return objects


def _pending_imports(app, clients, objects) -> None:
    """A pending import per office, uploaded by its admin (it belongs to that admin). A
    kabupaten uploads a person of its own kecamatan; a province imports nobody (every row
    belongs to a kabupaten/kota office), so its pending record is written directly."""
    import io

    from bimtek.accounts.models import ParticipantImport

    sheets = {
        LUTRA: xlsx([HEADER, person(1, "Uji Impor", "7322019999990001")]),
        LUTIM: xlsx([HEADER, person(1, "Uji Impor", "7324049999990001", kec="Malili",
                                    desa="Harapan")]),
    }  # fmt: skip
    for office in ALL_OWNERS:
        if office not in sheets:
            with app.app_context():
                admin = db.session.scalars(
                    select(User).where(User.username == ACTORS[OWNER_ADMIN[office]].login)
                ).one()
                record = ParticipantImport(
                    admin_id=admin.id, office_id=admin.office_id, filename="peserta.xlsx",
                    sha256="0" * 64, status="pending",
                )  # fmt: skip
                db.session.add(record)
                db.session.commit()
                objects[office]["pending_import"] = record.id
            continue
        data = sheets[office]
        client = clients[OWNER_ADMIN[office]]
        token = CSRF_RE.search(client.get("/admin/peserta/impor").get_data(as_text=True))[1]
        response = client.post(
            "/admin/peserta/impor",
            data={"csrf_token": token, "berkas": (io.BytesIO(data), "peserta.xlsx")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        objects[office]["pending_import"] = int(response.headers["Location"].rsplit("/", 1)[1])


def _fingerprint(app) -> dict[str, str]:
    """Every mutable table's rows (static ones by count), as a hash per table."""
    result = {}
    with app.app_context():
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                if table.name in STATIC_TABLES:
                    rows = conn.execute(text(f'SELECT COUNT(*) FROM "{table.name}"')).all()
                else:
                    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
                    rows = conn.execute(table.select().order_by(text(order))).all()
                result[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        db.session.remove()
    return result


class World:
    def __init__(self, backend, tmp_path_factory):
        self.backend = backend
        self.store = _store(backend, tmp_path_factory)
        self.url, self._release = self.store.checkout("demo")
        self.dir = tmp_path_factory.mktemp(f"office-access-{backend}")
        self.uploads = self.dir / "uploads"
        self.uploads.mkdir()
        app = make_test_app(
            self.url,
            BIMTEK_UPLOAD_DIR=str(self.uploads),
            BIMTEK_BACKUP_DIR=str(self.dir / "cadangan"),
            RATELIMIT_ENABLED=False,
        )
        app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 is an answer, not a crash
        app.config["TEST_SEED"] = "demo"
        self.app = app
        (self.dir / "cadangan").mkdir()
        (self.dir / "cadangan" / ALL_OBJECTS_DEFAULT["backup"]).write_bytes(b"\x1f\x8b demo")
        with app.app_context(), app.test_request_context():
            self.objects = _build(app, self.uploads)
        self.clients, self.tokens = {}, {}
        for name, who in ACTORS.items():
            client = app.test_client()
            page = "/login"
            if who is not None:
                token = CSRF_RE.search(client.get("/login").get_data(as_text=True))[1]
                response = client.post(
                    "/login",
                    data={"csrf_token": token, "username": who.login, "password": who.password},
                )
                assert response.status_code == 302, (name, response.get_data(as_text=True)[:300])
                assert "/login" not in response.headers["Location"], name
                page = "/akun/kata-sandi"
            self.clients[name] = client
            self.tokens[name] = CSRF_RE.search(client.get(page).get_data(as_text=True))[1]
        _pending_imports(app, self.clients, self.objects)
        self.forms = self._harvest()
        self._keep()
        self.clean = _fingerprint(app)
        # Whether a request wrote at all: most cells write nothing, and need no fingerprint.
        self.wrote = False
        event.listen(Engine, "before_cursor_execute", self._saw_statement)

    def _saw_statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:7].upper().startswith(WRITING):
            self.wrote = True

    def path(self, cell: Cell) -> str:
        values = self.objects[cell.owner] if cell.owner else ALL_OBJECTS_DEFAULT
        path = cell.rule
        for name, kind in cell.params:
            if kind == "region":
                kode = values["kecamatan"]
                value = kode.rsplit(".", 1)[0] if cell.endpoint == "wilayah.kabupaten" else kode
                if cell.endpoint == "reports.region":  # the office's own region: 73.22, 73
                    value = OFFICE_KODE[cell.owner]
            else:
                value = values[kind] if cell.owner else ALL_OBJECTS_DEFAULT[kind]
            path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
        if cell.endpoint in QUERY and cell.owner:
            # A course offered down is looked at for the actor's own kecamatan.
            kecamatan = values["kecamatan"]
            if cell.owner == SULSEL and ACTORS[cell.actor] is not None:
                kecamatan = KECAMATAN.get(ACTORS[cell.actor].office, kecamatan)
            path += "?" + QUERY[cell.endpoint].format(kecamatan=kecamatan)
        return path

    def _harvest(self) -> dict[str, list]:
        """The fields of every POST form the owners' pages show, by action path."""
        forms: dict[str, list] = {}
        harvesters = {office: [OWNER_ADMIN[office], OWNER_PESERTA.get(office, "peserta")]
                      for office in ALL_OWNERS}  # fmt: skip
        for cell in CELLS:
            if (
                cell.method != "GET"
                or cell.owner is None
                or cell.actor not in harvesters[cell.owner]
            ):
                continue
            roles = ROLES[cell.endpoint]
            if roles == PUBLIC or (roles != LOGIN and ACTORS[cell.actor].role not in roles):
                continue
            response = self.clients[cell.actor].get(self.path(cell))
            if response.status_code != 200 or "html" not in response.content_type:
                continue
            for action, fields in parse_forms(response.get_data(as_text=True)):
                target = urlsplit(action).path or urlsplit(self.path(cell)).path
                forms.setdefault(target, fields)
        return forms

    # -- snapshot and restore ----------------------------------------------------------------

    def _dispose(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    def _keep(self) -> None:
        self._dispose()
        shutil.copytree(self.uploads, self.dir / "uploads-kept")
        if self.backend == "sqlite":
            self.kept = self.dir / "kept.db"
            with (
                sqlite3.connect(self._sqlite_path()) as source,
                sqlite3.connect(self.kept) as target,
            ):
                source.backup(target)
        elif SNAPSHOT not in self.store.snapshots:
            self.store._keep(SNAPSHOT)

    def _sqlite_path(self) -> str:
        return self.url.removeprefix("sqlite:///")

    def restore(self, tables: list[str]) -> None:
        """Back to the world as built: the upload folder, and on PostgreSQL only the tables
        that changed (foreign keys off for the copy; the whole snapshot where that is not
        allowed), on SQLite the whole file (a small copy)."""
        self._dispose()
        shutil.rmtree(self.uploads)
        shutil.copytree(self.dir / "uploads-kept", self.uploads)
        if self.backend == "sqlite":
            for suffix in ("-wal", "-shm"):
                Path(self._sqlite_path() + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.kept, self._sqlite_path())
        elif not self._restore_tables(tables):
            self.store._restore(SNAPSHOT)

    def _restore_tables(self, tables: list[str]) -> bool:
        from psycopg import errors, sql

        _filled, sequences = self.store.snapshots[SNAPSHOT]
        schema = "seed_" + SNAPSHOT
        with self.store._connect() as conn:
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL session_replication_role = replica")
                    for table in tables:
                        name = sql.Identifier("public", table)
                        conn.execute(sql.SQL("DELETE FROM {}").format(name))
                        conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(
                            name, sql.Identifier(schema, table)))  # fmt: skip
                    for sequence in self.store.sequences:
                        value = sequences.get(sequence)
                        conn.execute("SELECT setval(%s, %s, %s)",
                                     (f'public."{sequence}"', value or 1, value is not None))  # fmt: skip
            except errors.InsufficientPrivilege:
                return False
        return True

    def changed(self) -> list[str]:
        if not self.wrote:
            return []
        now = _fingerprint(self.app)
        return sorted(t for t, h in now.items() if self.clean.get(t) != h)

    def close(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._saw_statement)
        close_app(self.app)
        self._release()


ALL_OBJECTS_DEFAULT = {"public": "tidak-ada", "backup": "bimtek-cadangan-20260101-000000.tar.gz"}


# --- the cells --------------------------------------------------------------------------------


def _verdict(cell: Cell, response, want) -> str | None:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return f"answered {status}"
    if want == NO_ERROR:
        return None
    if want == LOGIN_PAGE:
        return None if status == 302 and "/login" in location else f"{status}, not the sign-in page"
    if status == 302 and "/login" in location:
        return "sent to the sign-in page"
    if want == ALLOWED:
        return f"refused with {status}" if status in (403, 404) else None
    return None if status == want else f"{status}, expected {want}"


def run_cell(world: World, cell: Cell) -> str | None:
    """None when the cell behaves as the rule says, else what went wrong."""
    kinds = {kind for _, kind in cell.params}
    want = expected(cell.endpoint, cell.method, kinds, cell.actor, cell.owner)
    client = world.clients[cell.actor]
    path = world.path(cell)
    if cell.method == "GET":
        return _verdict(cell, client.get(path), want)
    fields = [(k, v) for k, v in world.forms.get(urlsplit(path).path, []) if k != "csrf_token"]
    data = [("csrf_token", world.tokens[cell.actor]), *fields, *EXTRA_FIELDS.get(cell.endpoint, [])]
    world.wrote = False
    response = client.post(path, data=MultiDict(data))
    problem = _verdict(cell, response, want)
    if response.status_code in (403, 404) or (
        response.status_code == 302 and "/login" in response.headers.get("Location", "")
    ):
        return problem  # refused before the view wrote anything
    changed = world.changed()
    if changed:
        world.restore(changed)
        if want != ALLOWED and problem is not None:
            problem += f"; and it changed {', '.join(changed)}"
    return problem


def check_cell(world: World, cell: Cell) -> None:
    """The test of one cell: fails with what went wrong (KNOWN_GAPS: xfail)."""
    problem = run_cell(world, cell)
    record = os.environ.get("OFFICE_ACCESS_RECORD")  # a file: write the failing cells there
    if record and problem is not None:
        with open(record, "a", encoding="utf-8") as out:
            out.write(f"{world.backend}\t{cell.key!r}\t{problem}\n")
    if cell.key in KNOWN_GAPS:
        if problem is None:
            pytest.fail(f"{cell.key} now behaves: remove it from KNOWN_GAPS")
        pytest.xfail(problem)
    assert problem is None, f"{cell} ({world.path(cell)}): {problem}"


def world_fixture(backend: str):
    """The module-scoped `world` fixture of one database's file."""

    @pytest.fixture(scope="module")
    def world(tmp_path_factory):
        built = World(backend, tmp_path_factory)
        yield built
        built.close()

    return world


# Cells that fail on this branch (the scope is being applied to the views in parallel), by
# feature: (endpoint, method, actor, owning office). Each must go when its fix lands: a listed
# cell that passes fails the test. Identical on SQLite and PostgreSQL.
KNOWN_GAPS: set[tuple] = set()
