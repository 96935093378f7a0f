"""A circular (imbauan) of an office and the read receipts of the people it addresses."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.accounts.models import User
from bimtek.extensions import db
from bimtek.timeutil import utcnow


class Imbauan(db.Model):
    """Written by an office for the badan and regions of its subtree; a draft until published,
    then fixed (the receipts speak about the text as published)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    # Rendered and sanitised once, when saved (bimtek.content.render), never per request.
    body_html: Mapped[str] = mapped_column(Text)
    # Badan names (accounts.roles.BADAN) and/or STAF_KPU: who is addressed.
    audience: Mapped[list] = mapped_column(JSON, default=list)
    # Kabupaten/kecamatan codes inside the office's wilayah; empty = the whole subtree.
    regions: Mapped[list] = mapped_column(JSON, default=list)
    # "Saya menyatakan …": when set, the recipient ticks it to confirm.
    confirmation_text: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(index=True)

    created_by: Mapped[User] = relationship()

    @property
    def published(self) -> bool:
        return self.published_at is not None


class ImbauanReceipt(db.Model):
    """One person's "Sudah dibaca" (at most one: a double tap stores one receipt)."""

    __table_args__ = (UniqueConstraint("imbauan_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique constraint starts with it.
    imbauan_id: Mapped[int] = mapped_column(ForeignKey("imbauan.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The confirmation text was ticked (always, when the circular asks for one).
    confirmed: Mapped[bool] = mapped_column(default=False)
