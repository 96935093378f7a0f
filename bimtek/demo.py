"""Demo data: Kab. Luwu Utara (73.22), courses over the shipped modules, one account per role."""

from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from bimtek.accounts import service as accounts
from bimtek.accounts.models import User
from bimtek.content.service import sync_content
from bimtek.extensions import db
from bimtek.learning import service as learning
from bimtek.learning.models import Course, Module
from bimtek.quiz import service as quiz_service
from bimtek.timeutil import utcnow
from bimtek.wilayah.service import import_wilayah, read_wilayah_csv

DEMO_WILAYAH = Path(__file__).resolve().parent / "data" / "wilayah-73.22.csv"
# A second kabupaten of the same province, so office boundaries can be tried.
DEMO_WILAYAH_LUTIM = Path(__file__).resolve().parent / "data" / "wilayah-73.24.csv"

# (role, username, nama, password, office): lutra = KPU Kabupaten Luwu Utara (the first office),
# lutim = KPU Kabupaten Luwu Timur, sulsel = KPU Provinsi Sulawesi Selatan above both.
DEMO_OFFICE_LABELS = {
    "lutra": "Kab. Luwu Utara",
    "lutim": "Kab. Luwu Timur",
    "sulsel": "Prov. Sulsel",
}
DEMO_STAFF = [
    ("admin", "admin", "Operator KPU Kab. Luwu Utara", "demo-admin-2029", "lutra"),
    ("pelatih", "pelatih", "Narasumber Bimtek", "demo-pelatih-2029", "lutra"),
    ("admin", "admin-lutim", "Operator KPU Kab. Luwu Timur", "demo-lutim-2029", "lutim"),
    ("admin", "admin-sulsel", "Operator KPU Provinsi Sulawesi Selatan", "demo-sulsel-2029", "sulsel"),
]  # fmt: skip
# (nama, nik, badan, jabatan, kecamatan, desa, asn) — invented people, invented NIKs.
DEMO_PESERTA = [
    ("Andi Sukmawati", "7322014107900001", "PPK", "Ketua", "73.22.01", None, False),
    ("Muh. Rizal Pratama", "7322011203950002", "PPS", "Anggota", "73.22.01", "73.22.01.2001", False),
    ("Nurhayati Basri", "7322015508880003", "Sekretariat PPS", "Staf", "73.22.01", "73.22.01.2001", True),
    ("Hasnawati Lamba", "7324046302910004", "PPS", "Ketua", "73.24.04", "73.24.04.2001", False),
    ("Rahmat Tandirerung", "7324041708930005", "PPK", "Anggota", "73.24.04", None, False),
]  # fmt: skip
DEMO_PESERTA_PASSWORD = "demo-peserta-2029"  # noqa: S105 (printed demo login)

DEMO_COURSES = [
    (
        "Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS",
        "Bekal etika bagi anggota badan ad hoc yang baru dilantik.",
        ["PPK", "PPS", "KPPS"],
        8,
        [
            "kode-etik-penyelenggara",
            "kode-perilaku-badan-adhoc",
            "netralitas-penyelenggara",
            "penanganan-pelanggaran-kode-etik",
        ],
    ),
    (
        "Bimtek Sekretariat PPK dan PPS: Kode Etik dan Netralitas ASN",
        "Untuk staf sekretariat, ASN maupun non-ASN.",
        ["Sekretariat PPK", "Sekretariat PPS"],
        6,
        [
            "kode-etik-penyelenggara",
            "netralitas-penyelenggara",
            "kewajiban-netralitas-asn",
            "penanganan-pelanggaran-kode-etik",
        ],
    ),
    (
        "Bimtek Lanjutan: Tata Kerja, Gratifikasi, Tindak Pidana Pemilu dan Pelindungan Data",
        "Untuk semua badan ad hoc dan sekretariatnya setelah bimtek etika.",
        ["PPK", "PPS", "KPPS", "Sekretariat PPK", "Sekretariat PPS"],
        6,
        [
            "tata-kerja-badan-adhoc",
            "gratifikasi-kode-perilaku-kpu",
            "tindak-pidana-pemilu-badan-adhoc",
            "perlindungan-data-pemilih",
        ],
    ),
]


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, login, password) rows of the demo accounts, as `bimtek demo` prints them."""
    staff = [
        (f"{role} ({DEMO_OFFICE_LABELS[office]})", username, password)
        for role, username, _nama, password, office in DEMO_STAFF
    ]
    peserta = [
        (f"peserta ({badan} {jabatan})", nik, DEMO_PESERTA_PASSWORD)
        for _nama, nik, badan, jabatan, *_rest in DEMO_PESERTA
    ]
    return staff + peserta


def seed_demo() -> list[tuple[str, str, str]]:
    """Idempotent; returns (role, login, password) rows to print. Caller commits."""
    rows, errors = read_wilayah_csv(DEMO_WILAYAH)
    if errors:
        raise RuntimeError(f"shipped demo region file is broken: {errors[0]}")
    import_wilayah(rows)
    rows, errors = read_wilayah_csv(DEMO_WILAYAH_LUTIM)
    if errors:
        raise RuntimeError(f"shipped demo region file is broken: {errors[0]}")
    import_wilayah(rows)
    demo_offices = _demo_offices()
    report = sync_content(current_app.config["BIMTEK_CONTENT_DIR"])
    if not report.ok:
        raise RuntimeError("content has errors; run 'bimtek content check'")

    logins = []
    for role, username, nama, password, office_key in DEMO_STAFF:
        if db.session.scalars(select(User).where(User.username == username)).first() is None:
            office_id = demo_offices[office_key].id
            accounts.create_staff(role, username, nama, password, office_id=office_id)
        logins.append((f"{role} ({DEMO_OFFICE_LABELS[office_key]})", username, password))
    for nama, nik, badan, jabatan, kecamatan, desa, asn in DEMO_PESERTA:
        if db.session.scalars(select(User).where(User.nik == nik)).first() is None:
            data = accounts.ParticipantData(nama, nik, badan, jabatan, kecamatan, desa, asn)
            user, _ = accounts.create_participant(data, None, DEMO_PESERTA_PASSWORD)
            user.must_change_password = False  # demo logins keep working after a first try
        logins.append((f"peserta ({badan} {jabatan})", nik, DEMO_PESERTA_PASSWORD))

    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    modules = {m.slug: m.id for m in db.session.scalars(select(Module))}
    for title, description, audience, hours, slugs in DEMO_COURSES:
        course = db.session.scalars(select(Course).where(Course.title == title)).first()
        if course is None:
            module_ids = [modules[s] for s in slugs if s in modules]
            if not module_ids:
                continue
            course = learning.save_course(
                None,
                title=title,
                description=description,
                audience=audience,
                hours_jp=hours,
                module_ids=module_ids,
                active=True,
                actor=admin,
            )
        _demo_quizzes(course, admin)
    _demo_office(admin)
    for key, values in DEMO_OTHER_OFFICES.items():
        _demo_other_office(demo_offices[key], values)
    _demo_session(admin)
    return logins


def _demo_offices() -> dict:
    """KPU Provinsi Sulawesi Selatan over KPU Kabupaten Luwu Utara (the first office, bound to
    73.22 when it is still unbound) and KPU Kabupaten Luwu Timur (73.24)."""
    from bimtek.offices import service as offices
    from bimtek.offices.models import KABKOTA, PROVINSI, Office

    by_kode = {o.wilayah_kode: o for o in db.session.scalars(select(Office))}
    sulsel = by_kode.get("73") or offices.create_office(PROVINSI, "73")
    lutra = by_kode.get("73.22")
    if lutra is None:
        first = offices.first_office()
        if first.wilayah_kode is None:
            offices.bind(first, KABKOTA, "73.22", sulsel)
            lutra = first
        else:
            lutra = offices.create_office(KABKOTA, "73.22", parent=sulsel)
    lutim = by_kode.get("73.24") or offices.create_office(KABKOTA, "73.24", parent=sulsel)
    return {"sulsel": sulsel, "lutra": lutra, "lutim": lutim}


# The other demo offices' identity (KPU Luwu Timur sits in Malili, KPU Sulawesi Selatan in
# Makassar); signers are placeholders, as for Luwu Utara.
DEMO_OTHER_OFFICES = {
    "lutim": {
        "name": "KPU Kabupaten Luwu Timur",
        "signer_name": "Nama Ketua (demo)",
        "signer_title": "Ketua KPU Kabupaten Luwu Timur",
        "place": "Malili",
    },
    "sulsel": {
        "name": "KPU Provinsi Sulawesi Selatan",
        "signer_name": "Nama Ketua (demo)",
        "signer_title": "Ketua KPU Provinsi Sulawesi Selatan",
        "place": "Makassar",
    },
}


def _demo_other_office(office, values: dict) -> None:
    """Name, signer and place of a demo office, once (later edits are kept)."""
    from bimtek.settings import service as settings
    from bimtek.timeutil import utcnow as now

    if office.updated_at is not None:
        return
    for key, value in values.items():
        setattr(office, key, value)
    office.address_line = office.address_line or ""
    office.signer_nip = office.signer_nip or ""
    office.updated_at = now()
    settings.forget_office()


# The office's real name and street (Jalan Simpurusiang, Kelurahan Bone Tua, Masamba: the
# KPU Luwu Utara's hall as reported by jenggala.id, 21 September 2024). The signer is a
# placeholder on purpose: a demo must not print a real person's name on a certificate.
DEMO_OFFICE = {
    "name": "KPU Kabupaten Luwu Utara",
    "address_line": "Jl. Simpurusiang, Kel. Bone Tua, Kec. Masamba, Kab. Luwu Utara",
    "signer_name": "Nama Ketua (demo)",
    "signer_title": "Ketua KPU Kabupaten Luwu Utara",
    "signer_nip": "",
    "place": "Masamba",
}


def _demo_office(admin: User) -> None:
    """Fill the office settings once; an operator's later edits are kept."""
    from bimtek.offices.models import Office
    from bimtek.settings import service as settings

    row = db.session.get(Office, admin.office_id)
    if row is not None and row.updated_at is not None:
        return
    office = settings.current_office()  # kode_kab derived from Luwu Utara (73.22)
    settings.save_office(
        settings.OfficeValues(
            **DEMO_OFFICE,
            timezone=office.timezone,
            cert_number_template=office.cert_number_template,
            kode_kab=office.kode_kab,
        ),
        admin,
    )


DEMO_SESSION_TITLE = "Bimtek tatap muka PPK dan PPS Kecamatan Malangke"


def _demo_session(admin: User) -> None:
    """A session running now (so the check-in can be tried at once), run by the demo trainer."""
    from bimtek.attendance import service as attendance
    from bimtek.attendance.models import TrainingSession

    if db.session.scalars(
        select(TrainingSession).where(TrainingSession.title == DEMO_SESSION_TITLE)
    ).first():
        return
    course = db.session.scalars(select(Course).where(Course.title == DEMO_COURSES[0][0])).first()
    trainer = db.session.scalars(select(User).where(User.username == "pelatih")).first()
    if course is None or trainer is None:
        return
    start = utcnow().replace(minute=0, second=0, microsecond=0)
    attendance.save_session(
        None,
        attendance.SessionData(
            course_id=course.id,
            title=DEMO_SESSION_TITLE,
            venue="Aula Kantor Camat Malangke",
            starts_at=start,
            ends_at=start + timedelta(hours=8),
            late_after_minutes=240,  # a demo tried any time that day still shows "hadir"
            invite_kecamatan=["73.22.01"],
            trainer_ids=[trainer.id],
        ),
        admin,
    )


def _demo_quizzes(course: Course, admin: User) -> None:
    """A pre-test that shows only the score and a post-test (a parallel form: other questions)
    with answers and explanations once no attempt is left."""
    existing = {q.kind for q in quiz_service.course_quizzes(course)}
    if "pre" not in existing:
        quiz_service.save_quiz(
            course,
            None,
            quiz_service.QuizSettings(
                kind="pre",
                title="Pre-test",
                draw_count=15,
                time_limit_minutes=20,
                attempts_allowed=1,
                review_policy="score",
            ),  # fmt: skip
            admin,
        )
    if "post" not in existing:
        quiz_service.save_quiz(
            course,
            None,
            quiz_service.QuizSettings(
                kind="post",
                title="Post-test",
                draw_count=20,
                time_limit_minutes=30,
                attempts_allowed=2,
                review_policy="after_last",
            ),  # fmt: skip
            admin,
        )
