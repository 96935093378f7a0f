"""The trainer workspace (pelatih and admin) and material downloads (signed-in course members)."""

import logging
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from bimtek.content.banks import parse_bank
from bimtek.content.itemcheck import question_warnings
from bimtek.content.render import render_markdown
from bimtek.enums import STAFF
from bimtek.extensions import db
from bimtek.forms import ConfirmForm
from bimtek.learning.models import Course, Module
from bimtek.offices import scope
from bimtek.quiz.models import Question
from bimtek.spreadsheet import XLSX_MEDIA_TYPE
from bimtek.web import attachment, db_int, no_store, role_required
from bimtek.workspace import banks, bankxlsx, drafts, materials, queries, service
from bimtek.workspace.forms import (
    BankApplyForm,
    BankImportForm,
    ModuleForm,
    QuestionForm,
    UploadForm,
)
from bimtek.workspace.models import Material, ModuleDraft

log = logging.getLogger(__name__)

bp = Blueprint("workspace", __name__, url_prefix="/ruang-kerja")


@bp.app_template_global()
def materials_for(course=None, module=None):
    """Materials listed on the participant's course and module pages."""
    return queries.materials_of(course=course, module=module)


# --- who may read and who may change ----------------------------------------
# A module (and its bank, materials and drafts) belongs to an office. That office changes it;
# the offices below use it (read, put in their courses) and the offices above read it; any
# other office is told nothing (404).


def _readable(obj):
    if not queries.readable(scope.current_reach(), scope.office_of(obj)):
        abort(404)
    return obj


def _module(module_id: int) -> Module:
    return _readable(db.get_or_404(Module, module_id))


def _own_module(module_id: int) -> Module:
    """A module to change: only its own office (403 for a shared or a child office's one)."""
    module = _module(module_id)
    scope.require_owner(module)
    return module


def _own_draft(draft_id: int) -> ModuleDraft:
    draft = db.get_or_404(ModuleDraft, draft_id)
    office_id = drafts.draft_office_id(draft)
    # Unpublished text is not shared down: an office below sees no draft of a shared module.
    if not scope.current_reach().sees(office_id):
        abort(404)
    if not scope.current_reach().owns(office_id):
        abort(403)
    return draft


@bp.get("/")
@role_required(*STAFF)
def home():
    reach = scope.current_reach()
    return render_template(
        "workspace/home.html",
        modules=queries.modules_overview(reach),
        new_drafts=queries.new_module_drafts(reach.office_id),
        courses=queries.courses(reach),
        reach=reach,
    )


# --- modules ----------------------------------------------------------------


def _form_data(form: ModuleForm) -> drafts.DraftData:
    return drafts.DraftData(
        slug=form.slug.data,
        title=form.title.data or "",
        sort_order=form.sort_order.data or 0,
        audience=form.audience.data or [],
        estimated_minutes=form.estimated_minutes.data or 0,
        sources=(form.sources.data or "").splitlines(),
        body=form.body.data or "",
    )


def _fill(form: ModuleForm, draft: ModuleDraft) -> None:
    form.slug.data = draft.slug
    form.title.data = draft.title
    form.sort_order.data = draft.sort_order
    form.audience.data = list(draft.audience)
    form.estimated_minutes.data = draft.estimated_minutes
    form.sources.data = "\n".join(draft.sources)
    form.body.data = draft.body


@bp.route("/modul/baru", methods=["GET", "POST"])
@role_required(*STAFF)
def module_new():
    return _editor(None, None)


@bp.route("/draf/<int:draft_id>", methods=["GET", "POST"])
@role_required(*STAFF)
def draft_edit(draft_id: int):
    draft = _own_draft(draft_id)
    if draft.module_id is not None:
        return redirect(url_for(".module_edit", module_id=draft.module_id))
    return _editor(None, draft)


@bp.route("/modul/<int:module_id>/sunting", methods=["GET", "POST"])
@role_required(*STAFF)
def module_edit(module_id: int):
    module = _own_module(module_id)
    return _editor(module, drafts.draft_for(module))


def _editor(module: Module | None, draft: ModuleDraft | None):
    """One page for every module text: Pratinjau (no JS), Simpan draf, Terbitkan."""
    form = ModuleForm()
    shown = draft or (drafts.draft_from_version(module) if module is not None else None)
    if request.method == "GET" and shown is not None:
        _fill(form, shown)
    preview = None
    problems: list[str] = []
    if request.method == "POST":
        action = request.form.get("action", "simpan")
        if module is not None or draft is not None:
            form.slug.data = shown.slug  # the slug of a module or saved draft is fixed
        if action == "pratinjau":
            # Nothing is saved; the CSRF token was checked by CSRFProtect before this view.
            preview = render_markdown(form.body.data or "")
        elif form.validate_on_submit():
            try:
                saved = drafts.save_draft(module, draft, _form_data(form), current_user)
                if action == "terbitkan":
                    version = drafts.publish(saved, current_user)
                    db.session.commit()
                    flash(
                        f"Modul “{version.title}” terbit sebagai versi {version.version_no}.",
                        "success",
                    )
                    return redirect(url_for(".versions", module_id=version.module_id))
                db.session.commit()
            except service.WorkspaceError as exc:
                db.session.rollback()
                problems = [str(exc), *exc.problems]
            else:
                flash("Draf tersimpan. Peserta belum melihatnya sampai diterbitkan.", "success")
                if module is not None:
                    return redirect(url_for(".module_edit", module_id=module.id))
                return redirect(url_for(".draft_edit", draft_id=saved.id))
    status = 400 if request.method == "POST" and (problems or form.errors) else 200
    return render_template(
        "workspace/editor.html",
        form=form,
        module=module,
        draft=draft,
        preview=preview,
        problems=problems,
        upload_form=UploadForm(),
        confirm=ConfirmForm(),
        materials=queries.materials_of(module=module) if module is not None else [],
        current_no=module.current_version_no if module is not None else None,
    ), status


@bp.post("/pratinjau")
@role_required(*STAFF)
def preview():
    """workspace.js posts the textarea here after a pause in typing. Same pipeline and
    sanitiser as a published module."""
    body = request.form.get("body", "")
    if len(body) > 500_000:
        return jsonify(error="Isi modul terlalu panjang untuk pratinjau."), 413
    rendered = render_markdown(body)
    return jsonify(html=rendered.html, toc=rendered.toc)


@bp.post("/modul/unggah")
@role_required(*STAFF)
def module_upload_new():
    return _upload_md(None)


@bp.post("/modul/<int:module_id>/unggah")
@role_required(*STAFF)
def module_upload(module_id: int):
    return _upload_md(_own_module(module_id))


def _upload_md(module: Module | None):
    form = UploadForm()
    back = (
        url_for(".module_edit", module_id=module.id)
        if module is not None
        else url_for(".module_new")
    )
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    try:
        name, data = drafts.module_upload(
            upload.filename if upload else None, upload.stream if upload else None
        )
        draft = drafts.draft_from_file(module, name, data, current_user)
    except (service.WorkspaceError, materials.UploadRefused) as exc:
        db.session.rollback()
        for line in [str(exc), *getattr(exc, "problems", [])]:
            flash(line, "error")
        return redirect(back)
    db.session.commit()
    flash("Berkas dimuat sebagai draf. Periksa pratinjau, lalu terbitkan.", "success")
    if draft.module_id is not None:
        return redirect(url_for(".module_edit", module_id=draft.module_id))
    return redirect(url_for(".draft_edit", draft_id=draft.id))


@bp.post("/draf/<int:draft_id>/buang")
@role_required(*STAFF)
def draft_discard(draft_id: int):
    draft = _own_draft(draft_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    module_id = draft.module_id
    drafts.discard_draft(draft, current_user)
    db.session.commit()
    flash("Draf dibuang.", "success")
    if module_id is not None:
        return redirect(url_for(".module_edit", module_id=module_id))
    return redirect(url_for(".home"))


@bp.get("/modul/<int:module_id>/versi")
@role_required(*STAFF)
def versions(module_id: int):
    module = _module(module_id)
    all_versions = queries.versions_of(module)
    return render_template("workspace/versions.html", module=module, versions=all_versions)


@bp.get("/modul/<int:module_id>/beda")
@role_required(*STAFF)
def diff(module_id: int):
    module = _module(module_id)
    old = queries.version_of(module, request.args.get("dari", type=db_int) or 0)
    new = queries.version_of(module, request.args.get("ke", type=db_int) or 0)
    if old is None or new is None:
        abort(404)
    return render_template(
        "workspace/diff.html",
        module=module,
        old=old,
        new=new,
        lines=drafts.diff_versions(old, new),
        versions=queries.versions_of(module),
    )


@bp.get("/modul/<int:module_id>/ekspor")
@role_required(*STAFF)
def module_export(module_id: int):
    module = _module(module_id)
    version_no = request.args.get("versi", type=db_int) or module.current_version_no
    version = queries.version_of(module, version_no)
    if version is None:
        abort(404)
    name, text = drafts.export_module(version, current_app.config["BIMTEK_CONTENT_DIR"])
    return attachment(text.encode("utf-8"), name, "text/markdown")


# --- materials --------------------------------------------------------------


@bp.post("/modul/<int:module_id>/materi")
@role_required(*STAFF)
def module_material_upload(module_id: int):
    module = _own_module(module_id)
    return _upload_material(
        url_for(".module_edit", module_id=module.id, _anchor="materi"), module=module
    )


@bp.route("/kursus/<int:course_id>/materi", methods=["GET", "POST"])
@role_required(*STAFF)
def course_materials(course_id: int):
    course = _readable(db.get_or_404(Course, course_id))
    if request.method == "POST":
        scope.require_owner(course)
        return _upload_material(url_for(".course_materials", course_id=course.id), course=course)
    return render_template(
        "workspace/course_materials.html",
        course=course,
        materials=queries.materials_of(course=course),
        upload_form=UploadForm(),
        confirm=ConfirmForm(),
    )


def _upload_material(back: str, *, course=None, module=None):
    form = UploadForm()
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    try:
        if upload is None:
            raise materials.UploadRefused("Pilih berkas yang akan diunggah.")
        stored = materials.store_upload(
            upload.stream,
            upload.filename,
            current_app.config["BIMTEK_UPLOAD_DIR"],
            current_app.config["BIMTEK_UPLOAD_MAX_BYTES"],
        )
    except materials.UploadRefused as exc:
        flash(str(exc), "error")
        return redirect(back)
    try:
        service.add_material(
            stored, title=form.title.data, course=course, module=module, actor=current_user
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        materials.stored_path(current_app.config["BIMTEK_UPLOAD_DIR"], stored.stored_name).unlink(
            missing_ok=True
        )
        raise
    flash(f"Materi “{stored.original_name}” terunggah.", "success")
    return redirect(back)


@bp.post("/materi/<int:material_id>/hapus")
@role_required(*STAFF)
def material_delete(material_id: int):
    material = db.get_or_404(Material, material_id)
    owner = material.course if material.course_id is not None else material.module
    scope.require_owner(_readable(owner))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = (
        url_for(".course_materials", course_id=material.course_id)
        if material.course_id
        else url_for(".module_edit", module_id=material.module_id, _anchor="materi")
    )
    stored_name = service.delete_material(material, current_user)
    db.session.commit()
    path = materials.stored_path(current_app.config["BIMTEK_UPLOAD_DIR"], stored_name)
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("material %s: stored file %s could not be removed", material_id, path)
    flash("Materi dihapus.", "success")
    return redirect(back)


@bp.get("/materi/<int:material_id>")
@login_required
def material(material_id: int):
    material = db.get_or_404(Material, material_id)
    if not queries.can_download(current_user, material):
        abort(404)
    path = materials.stored_path(current_app.config["BIMTEK_UPLOAD_DIR"], material.stored_name)
    if not Path(path).is_file():
        log.error("material %s: stored file %s is missing", material.id, path)
        abort(404)
    mimetype, _endings, inline = materials.KINDS[material.kind]
    response = send_file(
        path,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=material.original_name,
        max_age=0,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


# --- question banks ---------------------------------------------------------


@bp.get("/modul/<int:module_id>/soal")
@role_required(*STAFF)
def bank(module_id: int):
    module = _module(module_id)
    return render_template(
        "workspace/bank.html",
        module=module,
        can_change=scope.current_reach().owns(module.office_id),
        rows=queries.bank_rows(module),
        confirm=ConfirmForm(),
        import_form=BankImportForm(),
    )


@bp.route("/modul/<int:module_id>/soal/baru", methods=["GET", "POST"])
@role_required(*STAFF)
def question_new(module_id: int):
    return _question_form(_own_module(module_id), None)


@bp.route("/soal/<int:question_id>/ubah", methods=["GET", "POST"])
@role_required(*STAFF)
def question_edit(question_id: int):
    question = db.get_or_404(Question, question_id)
    return _question_form(_own_module(question.module_id), question)


def _question_form(module: Module, question: Question | None):
    form = QuestionForm()
    version = banks.current_question_version(question) if question is not None else None
    if request.method == "GET" and version is not None:
        entry = banks.question_entry(version)
        if entry is None:
            flash(
                "Teks sumber soal ini belum tersimpan (dimuat sebelum fitur ini ada). "
                "Jalankan bimtek content sync, lalu buka lagi.",
                "error",
            )
            return redirect(url_for(".bank", module_id=module.id))
        form.fill(entry)
    general: list[str] = []
    warnings: list[str] = []
    if request.method == "GET" and version is not None:
        warnings = question_warnings(
            banks.question_entry(version) or {},
            queries.current_question_entries(exclude_question_id=question.id),
        )
    if form.validate_on_submit():

        def error(field_name: str, reason: str) -> None:
            target = form.field_for(field_name)
            if target is None:
                general.append(reason[0].upper() + reason[1:])
            else:
                target.errors = [*target.errors, reason[0].upper() + reason[1:]]

        entry = form.bank_entry()
        saved = banks.save_question(module, question, entry, current_user, error)
        if saved is not None:
            warnings = question_warnings(
                entry, queries.current_question_entries(exclude_question_id=saved.id)
            )
            db.session.commit()
            flash(f"Soal {saved.qid} tersimpan.", "success")
            for warning in warnings:
                flash(f"Perhatikan soal {saved.qid}: {warning}", "warning")
            return redirect(url_for(".bank", module_id=module.id))
        db.session.rollback()
    status = 400 if request.method == "POST" else 200
    return render_template(
        "workspace/question_form.html",
        form=form,
        module=module,
        question=question,
        version=version,
        general=general,
        warnings=warnings,
    ), status


@bp.post("/soal/<int:question_id>/pensiun")
@role_required(*STAFF)
def question_retire(question_id: int):
    question = db.get_or_404(Question, question_id)
    _own_module(question.module_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    retire = request.form.get("retire") == "1"
    banks.set_retired(question, retire, current_user)
    db.session.commit()
    flash(
        f"Soal {question.qid} "
        + ("dipensiunkan: tidak diundi lagi, tetap ada di pembahasan percobaan lama." if retire
           else "diaktifkan kembali."),
        "success",
    )  # fmt: skip
    return redirect(url_for(".bank", module_id=question.module_id))


@bp.get("/modul/<int:module_id>/soal/ekspor.yaml")
@role_required(*STAFF)
def bank_export_yaml(module_id: int):
    module = _module(module_id)
    text, missing = banks.export_bank_yaml(module)
    if missing:
        flash(
            "Soal berikut belum punya teks sumber (dimuat sebelum fitur ini ada): "
            + ", ".join(missing)
            + ". Jalankan bimtek content sync, lalu ekspor lagi.",
            "error",
        )
        return redirect(url_for(".bank", module_id=module.id))
    return attachment(text.encode("utf-8"), f"{module.slug}.yaml", "application/yaml")


@bp.get("/modul/<int:module_id>/soal/ekspor.xlsx")
@role_required(*STAFF)
def bank_export_xlsx(module_id: int):
    module = _module(module_id)
    text, missing = banks.export_bank_yaml(module)
    if missing:
        flash("Beberapa soal belum punya teks sumber; jalankan bimtek content sync.", "error")
        return redirect(url_for(".bank", module_id=module.id))
    entries = banks.bank_entries(module)
    data = bankxlsx.build_bank_workbook(module.slug, entries)
    return attachment(data, f"{module.slug}.xlsx", XLSX_MEDIA_TYPE)


@bp.get("/templat-bank-soal.xlsx")
@role_required(*STAFF)
def bank_template_xlsx():
    return attachment(
        bankxlsx.build_bank_workbook("", []), "templat-bank-soal.xlsx", XLSX_MEDIA_TYPE
    )


@bp.post("/modul/<int:module_id>/soal/impor")
@role_required(*STAFF)
def bank_import(module_id: int):
    """Dry run: check the file and show what would change; nothing is written."""
    module = _own_module(module_id)
    form = BankImportForm()
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    name, bank_text, errors = banks.bank_upload(
        module, upload.filename if upload else None, upload.stream if upload else None
    )
    bank_file, plan, token = None, None, None
    if bank_text is not None and not errors:
        bank_file, problems = _parse_for(module, bank_text, name)
        errors = [f"{name} baris {e.line}: {e.reason}" for e in problems]
        if bank_file is not None:
            plan = banks.plan_bank(bank_file, module)
            token = banks.keep_pending_bank(
                current_app.config["BIMTEK_UPLOAD_DIR"], module, current_user, name, bank_text
            )
    return render_template(
        "workspace/bank_import.html",
        module=module,
        name=name,
        errors=errors,
        plan=plan,
        apply_form=BankApplyForm(token=token),
    ), (400 if errors else 200)


def _parse_for(module: Module, text: str, name: str):
    # The file's own 'module:' must name this module; ids of other banks are taken.
    return parse_bank(f"{module.slug}.yaml", text, {module.slug}, banks.other_qids_outside(module))


@bp.post("/modul/<int:module_id>/soal/terapkan")
@role_required(*STAFF)
def bank_apply(module_id: int):
    module = _own_module(module_id)
    form = BankApplyForm()
    if not form.validate_on_submit():
        abort(400)
    pending = banks.take_pending_bank(
        current_app.config["BIMTEK_UPLOAD_DIR"], form.token.data, module, current_user
    )
    if pending is None:
        flash("Pratinjau ini sudah diterapkan atau kedaluwarsa. Unggah berkasnya lagi.", "error")
        return redirect(url_for(".bank", module_id=module.id))
    name, text = pending
    # Checked again: the bank may have changed since the preview (another trainer's edit).
    bank_file, problems = _parse_for(module, text, name)
    if bank_file is None:
        for problem in problems[:20]:
            flash(f"{name} baris {problem.line}: {problem.reason}", "error")
        return redirect(url_for(".bank", module_id=module.id))
    report = banks.import_bank(bank_file, module, current_user, name)
    db.session.commit()
    flash(
        f"Bank soal dari {name} diterapkan: {report.questions_created} soal baru, "
        f"{report.questions_updated} versi baru, {report.questions_retired} dipensiunkan.",
        "success",
    )
    return redirect(url_for(".bank", module_id=module.id))
