"""/tugas: the user's jobs, one job's page (progress, result, error), download and cancel."""

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bimtek.enums import STAFF
from bimtek.extensions import db
from bimtek.jobs import service
from bimtek.jobs.models import Job
from bimtek.jobs.web import JobForm, send_result
from bimtek.timeutil import utcnow
from bimtek.web import role_required

bp = Blueprint("jobs", __name__)


def _job(job_id: int) -> Job:
    job = service.get(job_id)
    if job is None or not service.can_see(job, current_user):
        abort(404)  # someone else's job does not exist for you
    return job


@bp.get("/tugas")
@login_required
def index():
    return render_template("jobs/list.html", jobs=service.recent_for(current_user))


@bp.get("/tugas/<int:job_id>")
@login_required
def detail(job_id: int):
    job = _job(job_id)
    page = service.result_page(job, current_user)
    if page is not None and request.args.get("ikuti"):
        # The operator watched it run (the upload sent them here): on to the result.
        return redirect(page[0], code=303)
    return render_template(
        "jobs/detail.html",
        job=job,
        result_page=page,
        form=JobForm(),
        downloadable=service.result_path(job) is not None,
        refresh=job.active,
        # Nobody took it for a minute: say so (gunicorn alone, without `bimtek worker`).
        no_worker=job.status == "queued" and utcnow() - job.created_at > timedelta(minutes=1),
    )


@bp.get("/tugas/<int:job_id>/unduh")
@login_required
def download(job_id: int):
    return send_result(_job(job_id))


@bp.post("/tugas/<int:job_id>/batal")
@role_required(*STAFF)
def cancel(job_id: int):
    job = _job(job_id)
    if not JobForm().validate_on_submit():
        abort(400)
    if job.active:
        if service.cancel(job):  # was still waiting: stopped, its page says what was undone
            flash("Tugas dibatalkan.", "info")
        else:
            flash("Permintaan pembatalan dikirim.", "info")
    db.session.rollback()
    return redirect(url_for(".detail", job_id=job.id))
