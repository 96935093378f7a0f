"""Every table, imported in one place so migrations and create_all see them all."""

from bimtek.accounts.models import AuditLog, ImportedAccount, ParticipantImport, User
from bimtek.attendance.models import (
    Attendance,
    AttendanceChange,
    SessionInvite,
    SessionTrainer,
    TrainingSession,
)
from bimtek.certificates.models import (
    Certificate,
    CertificateCounter,
    CertificateVersion,
    PaktaConfirmation,
)
from bimtek.evaluation.models import Evaluation, EvaluationAnswer
from bimtek.imbauan.models import Imbauan, ImbauanReceipt
from bimtek.jobs.models import Job
from bimtek.learning.models import Course, CourseModule, Module, ModuleProgress, ModuleVersion
from bimtek.offices import ownership  # noqa: F401  (fills office_id on new rows)
from bimtek.offices.models import Office
from bimtek.quiz.models import Attempt, AttemptAnswer, Question, QuestionVersion, Quiz
from bimtek.reports.models import ReportSum, ReportSumState
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan, Provinsi
from bimtek.workspace.models import Material, ModuleDraft

__all__ = [
    "Attempt", "AttemptAnswer", "Attendance", "AttendanceChange", "AuditLog", "Certificate",
    "CertificateCounter", "CertificateVersion", "Course", "CourseModule", "Desa", "Evaluation",
    "EvaluationAnswer", "Imbauan", "ImbauanReceipt", "ImportedAccount", "Job",
    "Kabupaten", "Kecamatan", "Material", "Module", "ModuleDraft", "ModuleProgress", "ModuleVersion",
    "Office", "PaktaConfirmation", "ParticipantImport", "Provinsi", "Question",
    "QuestionVersion", "Quiz", "ReportSum", "ReportSumState", "SessionInvite", "SessionTrainer", "TrainingSession", "User",
]  # fmt: skip
