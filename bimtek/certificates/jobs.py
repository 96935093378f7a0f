"""Certificate zips per kecamatan and bulk issue as background jobs.

Bulk issue commits a chunk of certificates at a time (BIMTEK_JOB_ISSUE_CHUNK). Each chunk
takes its numbers from the counter in the same transaction as its rows, so a worker killed
mid-job loses at most the chunk it was writing — numbers and all — and the numbers stay
gapless. Running the job again issues the rest: who already has a certificate is skipped.
"""

import zipfile

from flask import current_app, g
from sqlalchemy import select

from bimtek.accounts.models import User, audit
from bimtek.certificates import queries as certificate_queries
from bimtek.certificates import service
from bimtek.certificates.completion import completion_for
from bimtek.certificates.models import Certificate
from bimtek.extensions import begin_write, db
from bimtek.jobs.service import JobError, kind
from bimtek.learning.models import Course
from bimtek.offices import scope
from bimtek.settings.service import office_by_id
from bimtek.wilayah.models import Kecamatan

ADMIN = ("admin",)
ISSUE_INTERRUPTED = (
    "Penerbitan terhenti karena proses latar belakang dimulai ulang. Sertifikat yang sudah "
    "terbit tetap sah dan bernomor urut tanpa celah; terbitkan lagi untuk peserta sisanya."
)


def _load(params: dict) -> tuple[Course, Kecamatan]:
    course = db.session.get(Course, params["course_id"])
    kecamatan = db.session.get(Kecamatan, params["kecamatan"])
    if course is None or kecamatan is None:
        raise JobError("Kursus atau kecamatan ini sudah tidak ada.")
    return course, kecamatan


@kind("certificate_zip", roles=ADMIN, unit="sertifikat", inline_limit=300)
def certificate_zip(ctx, params: dict, user: User) -> str:
    course, kecamatan = _load(params)
    if not scope.reach_of(user).sees(service.kecamatan_office_id(kecamatan.kode)):
        raise JobError("Kecamatan ini di luar wilayah kantor Anda.")
    certificates = certificate_queries.certificates_in_kecamatan(course, kecamatan.kode)
    if not certificates:
        raise JobError(f"Belum ada sertifikat terbit untuk Kec. {kecamatan.nama}.")
    slug = "".join(ch if ch.isalnum() else "-" for ch in kecamatan.nama.lower())
    out = ctx.result_file(f"sertifikat-kursus{course.id}-{slug}.zip", "application/zip")
    total = len(certificates)
    ctx.progress(0, total)
    # PDFs are already compressed: store them, do not deflate them again.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        used: set[str] = set()
        for done, certificate in enumerate(certificates, start=1):
            name = certificate_queries.filename_for(certificate)
            if name in used:
                name = f"{certificate.id}-{name}"
            used.add(name)
            archive.writestr(name, certificate_queries.render_pdf(certificate))
            if done % 20 == 0:
                ctx.progress(done)
    ctx.progress(total)
    return f"{total} sertifikat Kec. {kecamatan.nama}."


@kind(
    "certificate_issue",
    roles=ADMIN,
    unit="peserta",
    reads_only=False,
    inline_limit=300,
    interrupted=ISSUE_INTERRUPTED,
)
def certificate_issue(ctx, params: dict, user: User) -> str:
    course, kecamatan = _load(params)
    issuer = service.kecamatan_office_id(kecamatan.kode)
    if not scope.reach_of(user).owns(issuer):
        raise JobError(
            "Sertifikat peserta kecamatan ini diterbitkan oleh kantor mereka sendiri "
            f"({office_by_id(issuer).name})."
        )
    if not office_by_id(issuer).confirmed:
        raise JobError(
            "Tidak ada sertifikat yang diterbitkan: periksa dulu identitas kantor di Pengaturan."
        )
    people = service.kecamatan_participants(course, kecamatan.kode)
    db.session.commit()
    total = len(people)
    chunk = max(1, int(current_app.config.get("BIMTEK_JOB_ISSUE_CHUNK", 200)))
    issued = not_eligible = already = 0
    ctx.progress(0, total)
    for start in range(0, total, chunk):
        # Each chunk reads without the write lock (SQLite) and takes it for its INSERTs alone:
        # back to back, chunks held it all the time, and a cancel (or anyone else's write)
        # waited for the whole run. Numbers stay gapless: the INSERTs run under the lock.
        g.db_reads_first, g.db_write = True, False
        part = people[start : start + chunk]
        ids = [u.id for u in part]
        # The rule is checked again now, per chunk, not trusted from the preview.
        completions = completion_for(course, ids)
        have = set(
            db.session.scalars(
                select(Certificate.user_id).where(
                    Certificate.course_id == course.id, Certificate.user_id.in_(ids)
                )
            )
        )
        eligible = []
        for person in part:
            if person.id in have:
                already += 1
            elif not completions[person.id].complete:
                not_eligible += 1
            else:
                eligible.append(person)
        if eligible:
            begin_write()
            try:
                _certificates, created = service._issue_many(course, eligible, user)
            except service.CertificateError as exc:
                raise JobError(f"Penerbitan berhenti: {exc}") from None
            # Another admin issuing at the same moment created the rest: theirs to report.
            issued += len(created)
            already += len(eligible) - len(created)
        db.session.commit()  # this chunk's certificates and numbers are now permanent
        ctx.progress(
            start + len(part),
            message=f"{issued} sertifikat terbit sejauh ini.",
        )
    begin_write()
    audit(
        user,
        "certificate.issue_bulk",
        "course",
        course.id,
        kecamatan=kecamatan.kode,
        issued=issued,
    )
    db.session.commit()
    return (
        f"{issued} sertifikat diterbitkan untuk Kec. {kecamatan.nama}. "
        f"{not_eligible} peserta belum memenuhi syarat; {already} sudah memiliki sertifikat."
    )
