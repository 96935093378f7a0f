"""Certificates: issue and render 1,000, against the floor of drawing the same page straight
with plain fpdf2 (none of the app's drawing code; names inside and outside cp1252); and the completion rule over 100,000 participants.

    .venv/bin/python bench/certificates.py [--count 1000] [--participants 100000]
        [--database-url postgresql://127.0.0.1/bimtek_bench]   (default: a fresh SQLite file)

Prints ms per certificate for the app and the floor (core font and DejaVu names apart; exit 1
when the app is over --ratio times the floor), certificates/s for issuing, rendering, both, the floor, the ratio to the floor, peak
memory (RSS of this process), and completion_for's time and query count.
"""

import argparse
import io
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import segno  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from fpdf import FPDF  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from bimtek import MIGRATIONS_DIR, create_app  # noqa: E402
from bimtek.accounts.models import User  # noqa: E402
from bimtek.certificates import queries as certificate_queries
from bimtek.certificates import service  # noqa: E402
from bimtek.certificates.completion import completion_for  # noqa: E402
from bimtek.content.service import sync_content  # noqa: E402
from bimtek.demo import DEMO_WILAYAH  # noqa: E402
from bimtek.extensions import db  # noqa: E402
from bimtek.learning import service as learning  # noqa: E402
from bimtek.learning.models import Course, Module, ModuleProgress  # noqa: E402
from bimtek.quiz import service as quiz_service  # noqa: E402
from bimtek.quiz.models import Attempt  # noqa: E402
from bimtek.timeutil import utcnow  # noqa: E402
from bimtek.wilayah.models import Desa  # noqa: E402
from bimtek.wilayah.service import import_wilayah, read_wilayah_csv  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup_course(admin_name="bench-admin") -> Course:
    rows, _ = read_wilayah_csv(DEMO_WILAYAH)
    import_wilayah(rows)
    sync_content(str(ROOT))
    admin = User(nama="Admin", username=admin_name, password_hash="x", role="admin")
    db.session.add(admin)
    db.session.flush()
    modules = db.session.scalars(select(Module).order_by(Module.sort_order).limit(4)).all()
    course = learning.save_course(
        None,
        title="Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS",
        description="",
        audience=["PPS"],
        hours_jp=8,
        module_ids=[m.id for m in modules],
        active=True,
        actor=admin,
    )
    quiz_service.save_quiz(
        course, None, quiz_service.QuizSettings(kind="post", title="Post-test"), admin
    )
    db.session.commit()
    return course


def add_participants(
    course: Course, count: int, offset: int, graduates: float, named: bool = False
) -> list[int]:
    """`count` PPS members spread over the desa; `graduates` of them finished the course."""
    desa = db.session.execute(select(Desa.kode, Desa.kecamatan_kode)).all()
    users = [
        {
            "nama": NAMES[i % len(NAMES)] if named else f"Peserta Bimtek {offset + i:06d}",
            "nik": f"73220{offset + i:011d}",
            "password_hash": "x",
            "role": "peserta",
            "badan": "PPS",
            "jabatan": "Anggota",
            "kecamatan_kode": desa[i % len(desa)][1],
            "desa_kode": desa[i % len(desa)][0],
            "must_change_password": False,
            "active": True,
            "is_asn": False,
            "session_token": secrets.token_hex(16),
            "created_at": utcnow(),
        }
        for i in range(count)
    ]
    for start in range(0, count, 5000):
        db.session.execute(insert(User), users[start : start + 5000])
    ids = list(
        db.session.scalars(
            select(User.id).where(User.role == "peserta").order_by(User.id).offset(offset)
        )
    )
    done = ids[: int(len(ids) * graduates)]
    versions = [m.versions[-1].id for m in course.modules]
    post = quiz_service.course_quizzes(course)[0]
    now = utcnow()
    progress = [
        {"user_id": uid, "module_version_id": v, "opened_at": now, "completed_at": now}
        for uid in done
        for v in versions
    ]
    for start in range(0, len(progress), 10000):
        db.session.execute(insert(ModuleProgress), progress[start : start + 10000])
    attempts = [
        {
            "quiz_id": post.id,
            "user_id": uid,
            "attempt_no": 1,
            "seed": 1,
            "status": "submitted",
            "started_at": now,
            "submitted_at": now,
            "question_count": 20,
            "correct_count": 17,
            "score": 85.0,
            "passed": True,
        }
        for uid in done
    ]
    for start in range(0, len(attempts), 10000):
        db.session.execute(insert(Attempt), attempts[start : start + 10000])
    db.session.commit()
    return ids


# A quarter of the names fit the PDF core fonts (cp1252); the others need the bundled DejaVu.
NAMES = ["Ṣāliḥ bin Aḥmad", "Nguyễn Thị Ánh", "Wa Ode Nurhaliza", "I Gusti Ayu Ṭirtā"]
FONT_DIR = ROOT / "bimtek" / "data" / "fonts"


def fits_cp1252(value: str) -> bool:
    try:
        value.encode("windows-1252")
    except UnicodeEncodeError:
        return False
    return True


def floor_page(nama: str, verify_url: str) -> bytes:
    """The certificate's layout drawn with plain fpdf2 and segno, none of the app's code: the
    core font when the name fits cp1252, else the bundled DejaVu Sans (embedded and subset)."""
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 15, 20)
    if fits_cp1252(nama):
        family = "helvetica"
    else:
        family = "dejavu"
        pdf.add_font("dejavu", "", FONT_DIR / "DejaVuSans.ttf")
        pdf.add_font("dejavu", "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.add_page()
    pdf.set_draw_color(120, 20, 30)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
    pdf.set_line_width(0.3)
    pdf.rect(11, 11, pdf.w - 22, pdf.h - 22)
    pdf.set_y(20)
    for style, size, value, height in [
        ("B", 15, "KPU KABUPATEN LUWU UTARA", 7),
        ("B", 32, "SERTIFIKAT", 14),
        ("", 12, "Nomor: 0001/PP.04-SD/73.22/2024", 6),
        ("", 13, "diberikan kepada", 7),
        ("B", 24, nama, 11),
        ("", 13, "Anggota PPS", 7),
        ("", 12, "Desa Malangke, Kec. Malangke", 6),
        ("", 13, "atas partisipasinya sebagai peserta", 7),
        ("B", 16, "Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS", 8),
        ("", 13, "sebanyak 8 jam pelajaran (JP)", 7),
    ]:
        pdf.set_font(family, style, size)
        pdf.set_x(pdf.l_margin)
        pdf.cell(pdf.epw, height, value, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.w - 115, pdf.h - 62)
    pdf.set_font(family, "", 12)
    for value in ("Masamba, 26 Mei 2024", "Ketua KPU Kabupaten Luwu Utara"):
        pdf.cell(95, 6, value, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.w - 115, pdf.h - 34)
    pdf.set_font(family, "B", 12)
    pdf.cell(95, 6, "(nama penandatangan)", align="C")
    qr = io.BytesIO()
    segno.make(verify_url, error="m", mask=0).save(qr, kind="png", scale=1, border=4)
    pdf.image(qr, x=20, y=pdf.h - 62, w=34, h=34)
    pdf.set_xy(20, pdf.h - 26)
    pdf.set_font(family, "", 7)
    pdf.cell(120, 3.5, f"Periksa keaslian: {verify_url}", new_x="LEFT", new_y="NEXT")
    return bytes(pdf.output())


def floor(names: list[str]) -> dict[bool, list[float]]:
    """Seconds per page, grouped by whether the name fits the core font."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for nama in names:
        start = time.perf_counter()
        floor_page(nama, "http://127.0.0.1:5000/verifikasi/" + "A" * 32)
        times[fits_cp1252(nama)].append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> float:
    return sum(values) / len(values) * 1000 if values else float("nan")


def count_queries(call):
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        started = time.perf_counter()
        result = call()
        return result, time.perf_counter() - started, len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--ratio",
        type=float,
        default=3.0,
        help="fail when the app renders slower than this "
        "many times the floor, per certificate (default 3)",
    )
    args = parser.parse_args()
    url = args.database_url or "sqlite:///" + tempfile.mkdtemp(prefix="bimtek-cert-") + "/b.db"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "BIMTEK_CERT_PLACE": "Masamba",
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        course = setup_course()
        ids = add_participants(course, args.count, 0, graduates=1.0, named=True)
        users = db.session.scalars(select(User).where(User.id.in_(ids))).all()
        print(f"database: {db.engine.dialect.name}; {args.count} certificates")

        names = [u.nama for u in users]
        floor_times = floor(names)
        floor_seconds = sum(floor_times[True]) + sum(floor_times[False])

        started = time.perf_counter()
        certificates = service.issue_many(course, users, None)
        db.session.commit()
        issue_seconds = time.perf_counter() - started

        app_times: dict[bool, list[float]] = {True: [], False: []}
        size = 0
        for certificate in certificates:
            started = time.perf_counter()
            size += len(certificate_queries.render_pdf(certificate))
            app_times[fits_cp1252(certificate.user.nama)].append(time.perf_counter() - started)
        render_seconds = sum(app_times[True]) + sum(app_times[False])

        total = issue_seconds + render_seconds
        n = args.count
        print(f"names: {', '.join(NAMES)} (cycled)")
        problems = []
        for core, label in ((True, "cp1252 name, core font"), (False, "other name, DejaVu")):
            if not app_times[core]:
                continue
            ratio = ms(app_times[core]) / ms(floor_times[core])
            print(f"{label:<24} app {ms(app_times[core]):6.1f} ms, floor {ms(floor_times[core]):6.1f} ms "
                  f"per certificate ({len(app_times[core])}): {ratio:.2f}x (limit {args.ratio}x)")  # fmt: skip
            if ratio > args.ratio:
                problems.append(f"{label}: app render {ratio:.2f}x the floor, limit {args.ratio}x")
        print(f"floor (plain fpdf2, same layout):    {n / floor_seconds:7.1f} pages/s")
        print(f"issue (number, version, audit):      {n / issue_seconds:7.1f} certificates/s")
        print(f"render from stored versions:         {n / render_seconds:7.1f} certificates/s")
        print(f"issue + render:                      {n / total:7.1f} certificates/s")
        print(f"render time / floor:                 {render_seconds / floor_seconds:7.2f}x")
        print(f"issue + render time / floor:         {total / floor_seconds:7.2f}x")
        print(f"average PDF size:                    {size / n / 1024:7.1f} KiB")
        print(f"peak memory (RSS):                   {peak_rss_mb():7.1f} MB")
        if len(certificates) != n:
            problems.append(f"{len(certificates)} certificates issued of {n}")

        more = args.participants - args.count
        if more > 0:
            started = time.perf_counter()
            add_participants(course, more, args.count, graduates=0.5)
            print(
                f"\nloaded {args.participants} participants in {time.perf_counter() - started:.1f} s"
            )
        db.session.expire_all()
        course = db.session.get(Course, course.id)
        course.course_modules  # noqa: B018  (loaded before timing)
        result, seconds, queries = count_queries(lambda: completion_for(course))
        complete = sum(1 for c in result.values() if c.complete)
        print(
            f"completion_for over {len(result)} participants: {seconds:.2f} s, "
            f"{queries} queries, {complete} complete"
        )
        print(f"peak memory (RSS) after:             {peak_rss_mb():7.1f} MB")
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
