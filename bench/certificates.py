"""Certificates: issue and render 1,000, against the floor of drawing the same page straight
with fpdf2; and the completion rule over 100,000 participants.

    .venv/bin/python bench/certificates.py [--count 1000] [--participants 100000]
        [--database-url postgresql://127.0.0.1/bimtek_bench]   (default: a fresh SQLite file)

Prints certificates/s for issuing, rendering, both, the floor, the ratio to the floor, peak
memory (RSS of this process), and completion_for's time and query count.
"""

import argparse
import resource
import secrets
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert, select  # noqa: E402

from bimtek import MIGRATIONS_DIR, create_app  # noqa: E402
from bimtek.accounts.models import User  # noqa: E402
from bimtek.certificates import pdf as certificate_pdf  # noqa: E402
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


def add_participants(course: Course, count: int, offset: int, graduates: float) -> list[int]:
    """`count` PPS members spread over the desa; `graduates` of them finished the course."""
    desa = db.session.execute(select(Desa.kode, Desa.kecamatan_kode)).all()
    users = [
        {
            "nama": f"Peserta Bimtek {offset + i:06d}",
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


def floor(count: int) -> float:
    """The same page drawn `count` times straight with fpdf2 (its QR code included, made with
    the fast fixed mask), without the database."""
    text = certificate_pdf.CertificateText(
        number="0001/PP.04-SD/73.22/2024",
        nama="Peserta Bimtek 000001",
        jabatan="Anggota PPS",
        asal="Desa Malangke, Kec. Malangke",
        course_title="Bimtek Kode Etik, Kode Perilaku dan Netralitas PPK, PPS dan KPPS",
        hours_jp=8,
        place="Masamba",
        issued_on=date(2024, 5, 26),
        signer_name="(nama penandatangan)",
        signer_title="Ketua KPU Kabupaten Luwu Utara",
        office_name="KPU Kabupaten Luwu Utara",
        verify_url="http://127.0.0.1:5000/verifikasi/" + "A" * 32,
    )
    start = time.perf_counter()
    for _ in range(count):
        pdf, family = certificate_pdf._new_document(text)
        certificate_pdf.draw(pdf, family, text, certificate_pdf.qr_image(text.verify_url))
        pdf.output()
    return time.perf_counter() - start


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
        ids = add_participants(course, args.count, 0, graduates=1.0)
        users = db.session.scalars(select(User).where(User.id.in_(ids))).all()
        print(f"database: {db.engine.dialect.name}; {args.count} certificates")

        floor_seconds = floor(args.count)

        started = time.perf_counter()
        certificates = service.issue_many(course, users, None)
        db.session.commit()
        issue_seconds = time.perf_counter() - started

        started = time.perf_counter()
        size = 0
        for certificate in certificates:
            size += len(certificate_queries.render_pdf(certificate))
        render_seconds = time.perf_counter() - started

        total = issue_seconds + render_seconds
        n = args.count
        print(f"floor (fpdf2, same page drawn {n}x): {n / floor_seconds:7.1f} pages/s")
        print(f"issue (number, version, audit):      {n / issue_seconds:7.1f} certificates/s")
        print(f"render from stored versions:         {n / render_seconds:7.1f} certificates/s")
        print(f"issue + render:                      {n / total:7.1f} certificates/s")
        print(f"render time / floor:                 {render_seconds / floor_seconds:7.2f}x")
        print(f"issue + render time / floor:         {total / floor_seconds:7.2f}x")
        print(f"average PDF size:                    {size / n / 1024:7.1f} KiB")
        print(f"peak memory (RSS):                   {peak_rss_mb():7.1f} MB")

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


if __name__ == "__main__":
    main()
