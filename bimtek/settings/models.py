"""The office's settings row. One row today (id 1); a column per field, NULL = not set here.

A NULL column falls back to the environment/config default (BIMTEK_OFFICE_NAME, …) or to a
value derived from the loaded wilayah, so an office that never opened "Pengaturan" still
follows its environment. One row per office later means a key (kode_kab) instead of id 1.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bimtek.extensions import db

OFFICE_ROW_ID = 1


class OfficeSetting(db.Model):
    __tablename__ = "office_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
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
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    previewed_at: Mapped[datetime | None]
