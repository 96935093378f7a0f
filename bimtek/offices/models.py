"""The office table: the tree of satker and each one's identity on official documents.

A column of the identity left NULL falls back to the environment/config default
(BIMTEK_OFFICE_NAME, …) or to a value derived from the office's wilayah, so an office that
never opened "Pengaturan" still follows its environment (settings.service reads it).
An office with no wilayah_kode is unbound: it covers every loaded region, as a single-office
laptop always did.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.extensions import db
from bimtek.timeutil import utcnow

PUSAT, PROVINSI, KABKOTA = "pusat", "provinsi", "kabkota"
LEVELS = (PUSAT, PROVINSI, KABKOTA)
LEVEL_LABELS = {PUSAT: "KPU RI", PROVINSI: "KPU Provinsi", KABKOTA: "KPU Kabupaten/Kota"}
# The length of a wilayah code at each level: "73" (provinsi), "73.22" (kabupaten/kota).
KODE_LENGTH = {PROVINSI: 2, KABKOTA: 5}

# The office every row of a single-office database belongs to (the migration creates it).
FIRST_OFFICE_ID = 1


class Office(db.Model):
    __table_args__ = (CheckConstraint("level IN ('pusat', 'provinsi', 'kabkota')", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"), index=True)
    level: Mapped[str] = mapped_column(String(12), default=KABKOTA)
    wilayah_kode: Mapped[str | None] = mapped_column(String(5), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Identity on documents (the "Pengaturan" page); NULL = not set here.
    name: Mapped[str | None] = mapped_column(String(200))
    address_line: Mapped[str | None] = mapped_column(String(300))
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signer_title: Mapped[str | None] = mapped_column(String(200))
    signer_nip: Mapped[str | None] = mapped_column(String(30))
    place: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str | None] = mapped_column(String(40))
    cert_number_template: Mapped[str | None] = mapped_column(String(120))
    kode_kab: Mapped[str | None] = mapped_column(String(10))
    # Saved once on the settings page (updated_*) or a sample certificate was looked at
    # (previewed_at): either lets certificates be issued.
    updated_at: Mapped[datetime | None]
    # No foreign key: user.office_id points here, and a cycle of keys would order neither table
    # first for create, delete or restore. The audit log names who saved.
    updated_by_id: Mapped[int | None]
    previewed_at: Mapped[datetime | None]

    parent: Mapped["Office | None"] = relationship(remote_side=[id])

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def label(self) -> str:
        return self.name or f"{self.level_label} {self.wilayah_kode or ''}".strip()
