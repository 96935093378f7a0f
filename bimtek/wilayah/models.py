"""Region tree with Kemendagri codes: provinsi > kabupaten/kota > kecamatan > desa/kelurahan."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bimtek.extensions import db


class Provinsi(db.Model):
    kode: Mapped[str] = mapped_column(String(2), primary_key=True)
    nama: Mapped[str] = mapped_column(String(100))


class Kabupaten(db.Model):
    kode: Mapped[str] = mapped_column(String(5), primary_key=True)  # 73.22
    provinsi_kode: Mapped[str] = mapped_column(ForeignKey("provinsi.kode"), index=True)
    nama: Mapped[str] = mapped_column(String(100))

    provinsi: Mapped[Provinsi] = relationship()
    kecamatan: Mapped[list["Kecamatan"]] = relationship(
        back_populates="kabupaten", order_by="Kecamatan.kode"
    )

    @property
    def is_kota(self) -> bool:
        return int(self.kode.split(".")[1]) >= 71


class Kecamatan(db.Model):
    kode: Mapped[str] = mapped_column(String(8), primary_key=True)  # 73.22.01
    kabupaten_kode: Mapped[str] = mapped_column(ForeignKey("kabupaten.kode"), index=True)
    nama: Mapped[str] = mapped_column(String(100))

    kabupaten: Mapped[Kabupaten] = relationship(back_populates="kecamatan")
    desa: Mapped[list["Desa"]] = relationship(back_populates="kecamatan", order_by="Desa.nama")


class Desa(db.Model):
    kode: Mapped[str] = mapped_column(String(13), primary_key=True)  # 73.22.01.2001
    kecamatan_kode: Mapped[str] = mapped_column(ForeignKey("kecamatan.kode"), index=True)
    nama: Mapped[str] = mapped_column(String(100))
    jenis: Mapped[str] = mapped_column(String(12))  # desa | kelurahan | desa adat

    kecamatan: Mapped[Kecamatan] = relationship(back_populates="desa")

    @property
    def label(self) -> str:
        prefix = "Kel." if self.jenis == "kelurahan" else "Desa"
        return f"{prefix} {self.nama}"
