"""The certificate PDF: A4 landscape, drawn with fpdf2 from a stored version's text.

Speed: the PDF core fonts (Helvetica, cp1252) need no font file, so most certificates cost
about as much as drawing the page at all. A name or text outside cp1252 ("Ṣāliḥ") switches
that certificate to the bundled DejaVu Sans, which fpdf2 parses and subsets per document
(~0.2 s): correct, slower, and rare. The QR code uses a fixed mask (segno's mask search is
most of the cost of a small code) and is embedded as a 1-bit image, so it can be read back.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import segno
from babel.dates import format_date
from fpdf import FPDF
from PIL import Image

from bimtek.timeutil import LOCALE

FONT_DIR = Path(__file__).resolve().parent.parent / "data" / "fonts"
CORE_ENCODING = "windows-1252"
QR_BORDER = 4


@dataclass(frozen=True)
class CertificateText:
    """Everything printed on one certificate."""

    number: str
    nama: str
    jabatan: str
    asal: str
    course_title: str
    hours_jp: int
    place: str
    issued_on: date
    signer_name: str
    signer_title: str
    office_name: str
    verify_url: str
    signer_nip: str = ""


def tanggal_indonesia(value: date) -> str:
    """26 Mei 2024."""
    return format_date(value, "d MMMM y", locale=LOCALE)


def qr_image(url: str) -> Image.Image:
    """The QR code, one pixel per module with its quiet zone, as a 1-bit image."""
    matrix = segno.make(url, error="m", mask=0).matrix
    size = len(matrix) + 2 * QR_BORDER
    image = Image.new("1", (size, size), 1)
    pixels = image.load()
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                pixels[x + QR_BORDER, y + QR_BORDER] = 0
    return image


def _fits_core_font(text: CertificateText) -> bool:
    fields = (
        text.number,
        text.nama,
        text.jabatan,
        text.asal,
        text.course_title,
        text.place,
        text.signer_name,
        text.signer_title,
        text.signer_nip,
        text.office_name,
    )
    try:
        for value in fields:
            value.encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _new_document(text: CertificateText) -> tuple[FPDF, str]:
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 15, 20)
    pdf.set_title(f"Sertifikat {text.number}")
    pdf.set_creator("bimtek")
    if _fits_core_font(text):
        pdf.core_fonts_encoding = CORE_ENCODING
        return pdf, "helvetica"
    pdf.add_font("dejavu", "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font("dejavu", "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    return pdf, "dejavu"


def _lines(pdf: FPDF, width: float, height: float, value: str, align: str = "C") -> None:
    """Text at the current position; wrapped only when it does not fit (fpdf2's line
    breaking is most of a page's drawing time, and most lines fit)."""
    if pdf.get_string_width(value) <= width - 2 * pdf.c_margin:
        pdf.cell(width, height, value, align=align, new_x="LEFT", new_y="NEXT")
    else:
        pdf.multi_cell(width, height, value, align=align, new_x="LEFT", new_y="NEXT")


def _centered(pdf: FPDF, family: str, style: str, size: float, value: str, height: float) -> None:
    pdf.set_font(family, style, size)
    pdf.set_x(pdf.l_margin)
    _lines(pdf, pdf.epw, height, value)


def draw(pdf: FPDF, family: str, text: CertificateText, qr: Image.Image) -> None:
    """One certificate page."""
    pdf.add_page()
    width, height = pdf.w, pdf.h
    pdf.set_draw_color(120, 20, 30)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, width - 16, height - 16)
    pdf.set_line_width(0.3)
    pdf.rect(11, 11, width - 22, height - 22)

    pdf.set_y(20)
    pdf.set_text_color(120, 20, 30)
    _centered(pdf, family, "B", 15, text.office_name.upper(), 7)
    pdf.ln(4)
    _centered(pdf, family, "B", 32, "SERTIFIKAT", 14)
    pdf.set_text_color(0, 0, 0)
    _centered(pdf, family, "", 12, f"Nomor: {text.number}", 6)
    pdf.ln(6)
    _centered(pdf, family, "", 13, "diberikan kepada", 7)
    pdf.ln(1)
    _centered(pdf, family, "B", 24, text.nama, 11)
    if text.jabatan:
        _centered(pdf, family, "", 13, text.jabatan, 7)
    if text.asal:
        _centered(pdf, family, "", 12, text.asal, 6)
    pdf.ln(4)
    _centered(pdf, family, "", 13, "atas partisipasinya sebagai peserta", 7)
    _centered(pdf, family, "B", 16, text.course_title, 8)
    _centered(pdf, family, "", 13, f"sebanyak {text.hours_jp} jam pelajaran (JP)", 7)

    # Signature block, bottom right.
    block_x, block_w = width - 20 - 95, 95
    pdf.set_xy(block_x, height - 62)
    pdf.set_font(family, "", 12)
    place_date = ", ".join(part for part in (text.place, tanggal_indonesia(text.issued_on)) if part)
    _lines(pdf, block_w, 6, place_date)
    _lines(pdf, block_w, 6, text.signer_title)
    pdf.set_xy(block_x, height - 34)
    pdf.set_font(family, "B", 12)
    _lines(pdf, block_w, 6, text.signer_name)
    if text.signer_nip:
        pdf.set_x(block_x)
        pdf.set_font(family, "", 11)
        _lines(pdf, block_w, 5, f"NIP. {text.signer_nip}")

    # QR code and the address it opens, bottom left.
    qr_size = 34
    pdf.image(qr, x=20, y=height - 20 - qr_size - 8, w=qr_size, h=qr_size)
    pdf.set_xy(20, height - 26)
    pdf.set_font(family, "", 7)
    _lines(pdf, 120, 3.5, f"Periksa keaslian: {text.verify_url}", align="L")


def render(text: CertificateText) -> bytes:
    pdf, family = _new_document(text)
    draw(pdf, family, text, qr_image(text.verify_url))
    return bytes(pdf.output())
