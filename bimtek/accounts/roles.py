"""Roles, badan and jabatan: plain values shared by forms, content checks and imports."""

from bimtek.enums import Role

ROLES = tuple(Role)
ROLE_LABELS = {"peserta": "Peserta", "pelatih": "Pelatih", "admin": "Admin KPU"}
BADAN = ("PPK", "PPS", "KPPS", "Sekretariat PPK", "Sekretariat PPS")
JABATAN = ("Ketua", "Anggota", "Sekretaris", "Staf")
# Members of a committee are Ketua or Anggota; a secretariat has a Sekretaris and Staf.
JABATAN_BY_BADAN = {
    "PPK": ("Ketua", "Anggota"),
    "PPS": ("Ketua", "Anggota"),
    "KPPS": ("Ketua", "Anggota"),
    "Sekretariat PPK": ("Sekretaris", "Staf"),
    "Sekretariat PPS": ("Sekretaris", "Staf"),
}
# Bodies that work at desa/kelurahan level must name their desa.
BADAN_NEEDS_DESA = ("PPS", "KPPS", "Sekretariat PPS")
