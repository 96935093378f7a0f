"""What pages read about certificates: public verification, the PDF's text and file name,
a participant's and a kecamatan's certificates, the sample certificate."""

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bimtek.accounts.models import User
from bimtek.certificates.models import (
    Certificate,
    CertificateVersion,
    PaktaConfirmation,
)
from bimtek.extensions import db
from bimtek.learning.models import Course
from bimtek.settings.service import Office, use_office

# --- verification ----------------------------------------------------------


@dataclass
class Verification:
    status: str  # "sah" | "dicabut" | "diganti" | "tidak_dikenal"
    version: CertificateVersion | None = None
    certificate: Certificate | None = None


def verify(code: str) -> Verification:
    if not code or len(code) > 64:
        return Verification("tidak_dikenal")
    version = db.session.scalars(
        select(CertificateVersion).where(CertificateVersion.code == code)
    ).one_or_none()
    if version is None:
        return Verification("tidak_dikenal")
    certificate = version.certificate
    if certificate.revoked:
        return Verification("dicabut", version, certificate)
    if version.version_no != certificate.current_version_no:
        return Verification("diganti", version, certificate)
    return Verification("sah", version, certificate)


# --- reading: PDFs and lists -------------------------------------------------


def verify_url(code: str) -> str:
    """The address the QR code opens (contract: /verifikasi/<code> on BIMTEK_PUBLIC_URL)."""
    return f"{current_app.config['BIMTEK_PUBLIC_URL']}/verifikasi/{code}"


def text_for(certificate: Certificate, version: CertificateVersion | None = None):
    from bimtek.certificates.pdf import CertificateText

    version = version or certificate.current_version
    return CertificateText(
        number=certificate.number,
        nama=version.nama,
        jabatan=version.jabatan,
        asal=version.asal,
        course_title=version.course_title,
        hours_jp=version.hours_jp,
        place=version.place,
        issued_on=version.issued_on,
        signer_name=version.signer_name,
        signer_title=version.signer_title,
        signer_nip=version.signer_nip,
        office_name=version.office_name,
        verify_url=verify_url(version.code),
    )


def render_pdf(certificate: Certificate) -> bytes:
    """Drawn as its issuing office (the participant's), whoever asks for it."""
    from bimtek.certificates.pdf import render

    with use_office(certificate.office_id):
        return render(text_for(certificate))


def certificates_of(user: User) -> list[Certificate]:
    return list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.user_id == user.id)
            .options(selectinload(Certificate.versions), selectinload(Certificate.course))
            .order_by(Certificate.issued_at.desc())
        )
    )


def certificates_in_kecamatan(course: Course, kecamatan_kode: str) -> list[Certificate]:
    """Current (not revoked) certificates of the course for participants of the kecamatan."""
    return list(
        db.session.scalars(
            select(Certificate)
            .join(User, User.id == Certificate.user_id)
            .where(
                Certificate.course_id == course.id,
                Certificate.revoked_at.is_(None),
                User.kecamatan_kode == kecamatan_kode,
            )
            .options(selectinload(Certificate.versions))
            .order_by(Certificate.seq, Certificate.id)
        )
    )


def filename_for(certificate: Certificate) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in certificate.number).strip("-")
    nama = "".join(ch if ch.isalnum() else "-" for ch in certificate.current_version.nama)
    return f"sertifikat-{safe}-{nama.strip('-')[:40]}.pdf"


def pakta_confirmations_of(user: User) -> list[tuple[PaktaConfirmation, str]]:
    """(confirmation, course title) of one participant, newest first."""
    return list(
        db.session.execute(
            select(PaktaConfirmation, Course.title)
            .join(Course, Course.id == PaktaConfirmation.course_id)
            .where(PaktaConfirmation.user_id == user.id)
            .order_by(PaktaConfirmation.confirmed_at.desc())
        ).all()
    )


# --- the sample certificate ---------------------------------------------------------------

SAMPLE_CODE = "CONTOH"


def sample_certificate(office: Office, public_url: str, today: date):
    """A certificate as the office's next one would look, for an invented participant."""
    from bimtek.certificates.pdf import CertificateText

    return CertificateText(
        number=office.number_example(today),
        nama="Nama Peserta Contoh",
        jabatan="Anggota PPS",
        asal="Desa Contoh, Kecamatan Contoh",
        course_title="Bimtek Kode Etik, Kode Perilaku dan Netralitas (contoh)",
        hours_jp=8,
        place=office.place,
        issued_on=today,
        signer_name=office.signer_name,
        signer_title=office.signer_title,
        signer_nip=office.signer_nip,
        office_name=office.name,
        verify_url=f"{public_url}/verifikasi/{SAMPLE_CODE}",
    )
