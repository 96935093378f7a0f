"""Every table, imported in one place so migrations and create_all see them all."""

from bimtek.accounts.models import AuditLog, ImportedAccount, ParticipantImport, User
from bimtek.learning.models import Course, CourseModule, Module, ModuleProgress, ModuleVersion
from bimtek.quiz.models import Attempt, AttemptAnswer, Question, QuestionVersion, Quiz
from bimtek.wilayah.models import Desa, Kabupaten, Kecamatan, Provinsi

__all__ = [
    "Attempt", "AttemptAnswer", "AuditLog", "Course", "CourseModule", "Desa", "ImportedAccount",
    "Kabupaten", "Kecamatan", "Module", "ModuleProgress", "ModuleVersion", "ParticipantImport",
    "Provinsi", "Question", "QuestionVersion", "Quiz", "User",
]  # fmt: skip
