"""The job row: what was asked, by whom, how far it got, and where its result lies."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.extensions import db

ACTIVE = ("queued", "running")
STATUSES = ("queued", "running", "done", "failed", "cancelled")
STATUS_LABELS = {
    "queued": "Menunggu giliran",
    "running": "Sedang berjalan",
    "done": "Selesai",
    "failed": "Gagal",
    "cancelled": "Dibatalkan",
}


class Job(db.Model):
    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    title: Mapped[str] = mapped_column(String(300), default="")
    # Set while queued or running, NULL afterwards: the unique index lets one active job
    # per kind and parameters exist (NULLs never collide on either database).
    active_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_unit: Mapped[str] = mapped_column(String(30), default="")
    message: Mapped[str] = mapped_column(String(500), default="")
    result_path: Mapped[str | None] = mapped_column(String(300))  # under UPLOAD_DIR/jobs/
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_mime: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)  # in Indonesian, shown to the operator
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(100))  # host:pid running it
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    started_by = relationship("User", lazy="joined")

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)
