"""Recipients read a circular and confirm it; the office writes it and follows the receipts."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bimtek.accounts.models import audit
from bimtek.enums import Role
from bimtek.extensions import db
from bimtek.forms import ConfirmForm
from bimtek.imbauan import queries, service
from bimtek.imbauan.forms import ImbauanForm, ReadForm
from bimtek.imbauan.models import Imbauan
from bimtek.imbauan.sheets import build_receipts_workbook
from bimtek.learning import hooks
from bimtek.offices import scope
from bimtek.offices.models import Office
from bimtek.offices.service import first_office, label_of
from bimtek.settings.service import office_by_id
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.timeutil import waktu
from bimtek.web import attachment, role_required

bp = Blueprint("imbauan", __name__)

HOME_NOTICES = 3  # unread circulars named on the home page; the rest behind one link
CONFIRMED_SHOWN = 200  # people listed on the receipts page; the xlsx has everyone


def _home_notices(user) -> list[tuple[str, str, str]]:
    """Unread circulars at the top of the recipient's home page."""
    unread = queries.unread(user)
    notices = [
        (
            f"Imbauan dari {label_of(i.office_id)}: {i.title}",
            "Baca dan konfirmasi",
            url_for("imbauan.read", imbauan_id=i.id),
        )
        for i in unread[:HOME_NOTICES]
    ]
    if len(unread) > HOME_NOTICES:
        notices.append(
            (
                f"Masih ada {len(unread) - HOME_NOTICES} imbauan lain yang belum Anda baca.",
                "Lihat semua imbauan",
                url_for("imbauan.mine"),
            )
        )
    return notices


@bp.record_once
def _register_with_learning(_state) -> None:
    hooks.register(hooks.home_notices, _home_notices)


# ---- recipients ------------------------------------------------------------------------------


def _addressed_or_404(imbauan_id: int) -> Imbauan:
    """A circular not addressed to this person does not exist for them."""
    imbauan = db.session.get(Imbauan, imbauan_id)
    if imbauan is None or not queries.is_recipient(imbauan, current_user):
        abort(404)
    return imbauan


@bp.get("/imbauan")
@login_required
def mine():
    return render_template(
        "imbauan/mine.html", addressed=queries.addressed_to(current_user), label_of=label_of
    )


@bp.get("/imbauan/<int:imbauan_id>")
@login_required
def read(imbauan_id: int):
    imbauan = _addressed_or_404(imbauan_id)
    return render_template(
        "imbauan/read.html",
        imbauan=imbauan,
        office=label_of(imbauan.office_id),
        receipt=service.receipt_of(imbauan, current_user),
        form=ReadForm(),
    )


@bp.post("/imbauan/<int:imbauan_id>")
@login_required
def confirm(imbauan_id: int):
    imbauan = _addressed_or_404(imbauan_id)
    form = ReadForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.confirm_read(imbauan, current_user, ticked=bool(form.agree.data))
    except service.ImbauanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash("Terima kasih. Konfirmasi Anda sudah tersimpan.", "success")
    return redirect(url_for("imbauan.read", imbauan_id=imbauan.id))


# ---- the office ------------------------------------------------------------------------------


def _my_office() -> Office:
    return db.session.get(Office, scope.office_id_of(current_user)) or first_office()


def _visible(imbauan_id: int) -> Imbauan:
    """Own circulars (drafts too) and the published ones of the offices below; else 404."""
    imbauan = scope.get_visible_or_404(Imbauan, imbauan_id)
    if not imbauan.published and not scope.current_reach().owns(imbauan.office_id):
        abort(404)
    return imbauan


def _owned(imbauan_id: int) -> Imbauan:
    imbauan = _visible(imbauan_id)
    scope.require_owner(imbauan)  # an office above reads, never changes: 403
    return imbauan


@bp.get("/admin/imbauan")
@role_required(Role.ADMIN)
def index():
    reach = scope.current_reach()
    return render_template(
        "imbauan/index.html",
        circulars=queries.office_list(reach),
        reach=reach,
        label_of=label_of,
    )


def _form_page(form: ImbauanForm, imbauan: Imbauan | None):
    return render_template("imbauan/form.html", form=form, imbauan=imbauan, office=form.office)


def _save(form: ImbauanForm, imbauan: Imbauan | None):
    """Create or update from a validated form; the service's refusal goes to its field."""
    publish = bool(form.publish.data)
    try:
        if imbauan is None:
            imbauan = service.create(form.office, form.values(), current_user, publish=publish)
        else:
            service.update(imbauan, form.values(), publish=publish)
    except service.ImbauanError as exc:
        db.session.rollback()
        field = getattr(form, exc.field or "", None)
        if field is not None:
            field.errors = [*field.errors, str(exc)]
        else:
            flash(str(exc), "error")
        return _form_page(form, imbauan)
    audit(
        current_user,
        "imbauan.publish" if publish else "imbauan.save",
        "imbauan",
        imbauan.id,
        title=imbauan.title,
    )
    db.session.commit()
    flash(
        "Imbauan diterbitkan: penerima melihatnya di beranda."
        if publish
        else "Draf imbauan disimpan. Periksa penerima lalu terbitkan.",
        "success",
    )
    return redirect(url_for("imbauan.detail", imbauan_id=imbauan.id))


@bp.route("/admin/imbauan/baru", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new():
    form = ImbauanForm(_my_office())
    if form.validate_on_submit():
        return _save(form, None)
    return _form_page(form, None)


@bp.route("/admin/imbauan/<int:imbauan_id>/ubah", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit(imbauan_id: int):
    imbauan = _owned(imbauan_id)
    if imbauan.published:
        flash("Imbauan yang sudah diterbitkan tidak dapat diubah.", "error")
        return redirect(url_for("imbauan.detail", imbauan_id=imbauan.id))
    form = ImbauanForm(
        _my_office(),
        data={
            "title": imbauan.title,
            "body": imbauan.body_markdown,
            "audience": imbauan.audience,
            "regions": ", ".join(imbauan.regions),
            "confirmation_text": imbauan.confirmation_text or "",
        },
    )
    if form.validate_on_submit():
        return _save(form, imbauan)
    return _form_page(form, imbauan)


@bp.post("/admin/imbauan/<int:imbauan_id>/terbitkan")
@role_required(Role.ADMIN)
def publish(imbauan_id: int):
    imbauan = _owned(imbauan_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.publish(imbauan)
    except service.ImbauanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        audit(current_user, "imbauan.publish", "imbauan", imbauan.id, title=imbauan.title)
        db.session.commit()
        flash("Imbauan diterbitkan: penerima melihatnya di beranda.", "success")
    return redirect(url_for("imbauan.detail", imbauan_id=imbauan.id))


@bp.get("/admin/imbauan/<int:imbauan_id>")
@role_required(Role.ADMIN)
def detail(imbauan_id: int):
    imbauan = _visible(imbauan_id)
    counts = queries.counts(imbauan)
    kecamatan = request.args.get("kecamatan", "", type=str)[:8] or None
    if kecamatan is not None and kecamatan not in {c.kode for c in counts if c.is_kecamatan}:
        kecamatan = None
    confirmed = list(
        queries.recipients(imbauan, kecamatan=kecamatan, only_read=True, limit=CONFIRMED_SHOWN + 1)
    )
    return render_template(
        "imbauan/detail.html",
        imbauan=imbauan,
        office=label_of(imbauan.office_id),
        owner=scope.current_reach().owns(imbauan.office_id),
        counts=counts,
        total_addressed=sum(c.addressed for c in counts),
        total_confirmed=sum(c.confirmed for c in counts),
        kecamatan=kecamatan,
        kecamatan_label=next((c.label for c in counts if c.kode == kecamatan), None),
        confirmed=confirmed[:CONFIRMED_SHOWN],
        more=len(confirmed) > CONFIRMED_SHOWN,
        limit=CONFIRMED_SHOWN,
        form=ConfirmForm(),
    )


@bp.get("/admin/imbauan/<int:imbauan_id>/tanda-terima.xlsx")
@role_required(Role.ADMIN)
def receipts_xlsx(imbauan_id: int):
    imbauan = _visible(imbauan_id)
    timezone = office_by_id(imbauan.office_id).timezone
    data = build_receipts_workbook(
        imbauan.title,
        label_of(imbauan.office_id),
        waktu(imbauan.published_at, timezone) if imbauan.published else "belum (draf)",
        queries.counts(imbauan),
        queries.recipients(imbauan),
        timezone,
    )
    return attachment(data, f"imbauan-{imbauan.id}-tanda-terima.xlsx", XLSX_MEDIA_TYPE)
