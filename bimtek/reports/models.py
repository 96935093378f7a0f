"""Precomputed dashboard sums: a row per course, kabupaten/kota, office, kecamatan and badan
holding every running sum a `queries.Summary` needs, refreshed by the job worker (see
bimtek/reports/sums.py). A province's dashboard adds up its 666 rows or so instead of a million
participants."""

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bimtek.extensions import db


class ReportSum(db.Model):
    __tablename__ = "report_sum"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    # The refresh unit: a kabupaten/kota code, or "" for participants without a kecamatan.
    kabkota: Mapped[str] = mapped_column(String(5))
    office_id: Mapped[int | None] = mapped_column(Integer)  # the participants' office (NULL = 1)
    kecamatan_kode: Mapped[str | None] = mapped_column(String(8))
    badan: Mapped[str | None] = mapped_column(String(32))
    participants: Mapped[int] = mapped_column(Integer, default=0)
    modules_n: Mapped[int] = mapped_column(Integer, default=0)
    modules_sum: Mapped[float] = mapped_column(Float, default=0.0)
    attendance_n: Mapped[int] = mapped_column(Integer, default=0)
    attendance_sum: Mapped[float] = mapped_column(Float, default=0.0)
    gain_n: Mapped[int] = mapped_column(Integer, default=0)
    gain_sum: Mapped[float] = mapped_column(Float, default=0.0)
    both_n: Mapped[int] = mapped_column(Integer, default=0)
    pre_sum: Mapped[float] = mapped_column(Float, default=0.0)
    post_sum: Mapped[float] = mapped_column(Float, default=0.0)
    with_post: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (db.Index("ix_report_sum_course_kabkota", "course_id", "kabkota"),)


class ReportSumState(db.Model):
    """When a course's sums of one kabupaten/kota were last computed (the figures as of then)."""

    __tablename__ = "report_sum_state"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    kabkota: Mapped[str] = mapped_column(String(5), primary_key=True)
    refreshed_at: Mapped[datetime]
    participants: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # how long the refresh took
