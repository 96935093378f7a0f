"""`offer`: how an export view starts its job, or answers at once when the job is small; and
the response that sends a job's result. Used by the features' views (not views itself)."""

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from bimtek.jobs import service
from bimtek.jobs.models import Job


class JobForm(FlaskForm):
    """CSRF only: start or cancel."""


def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def send_result(job: Job):
    path = service.result_path(job)
    if path is None:
        abort(404)
    return no_store(
        send_file(
            path,
            mimetype=job.result_mime or "application/octet-stream",
            as_attachment=True,
            download_name=job.result_name or path.name,
            max_age=0,
            conditional=False,
            etag=False,
        )
    )


def _send_once(job: Job):
    """A small job's result, answered in the request that ran it, is not kept: as before jobs
    existed, the file goes to the browser only (a credentials sheet stays off the disk)."""
    path = service.result_path(job)
    handle = open(path, "rb")  # noqa: SIM115 (send_file closes it)
    service.forget_result(job, "Berkas langsung diunduh; jalankan lagi bila perlu.")
    return no_store(
        send_file(
            handle,
            mimetype=job.result_mime or "application/octet-stream",
            as_attachment=True,
            download_name=job.result_name or path.name,
        )
    )


def offer(kind: str, params: dict, title: str, size: int | None, what: str):
    """The common answer of every export that may take long.

    GET of a small one: run it now (the same job code, inline) and send the file, as the link
    always did. GET of a large one: a page saying how large it is, with a button (POST) that
    queues it. POST: start it (or find the same one still running) and go to its page, or send
    the file straight away when it was small enough to run inline.
    """
    spec = service.spec_of(kind)
    limit = spec.inline_limit * float(current_app.config.get("BIMTEK_JOB_INLINE_SCALE", 1.0))
    if request.method == "GET" and (size is None or size > limit):
        running = service.active_job(kind, params, current_user)
        return render_template(
            "jobs/start.html",
            title=title,
            what=what,
            size=size,
            unit=spec.unit,
            running=running,
            form=JobForm(),
        )
    if request.method == "POST" and not JobForm().validate_on_submit():
        abort(400)
    try:
        started = service.start(kind, params, current_user, title, size)
    except service.JobError as exc:
        flash(str(exc), "error")
        return redirect(url_for("jobs.index"))
    job = started.job
    if started.inline and job.status == "done" and job.result_path:
        return _send_once(job)
    if started.existing:
        flash("Tugas yang sama sedang berjalan; ini halamannya.", "info")
    return redirect(url_for("jobs.detail", job_id=job.id), code=303)
