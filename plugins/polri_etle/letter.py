"""The confirmation letter ("surat konfirmasi") as a PDF in Indonesian, written atomically.

Rendering and writing are blocking (fpdf2, the disk): call :func:`render` and
:func:`write_atomic` in a thread. The font is DejaVu (Debian's
``fonts-dejavu-core``); the plugin's config refuses a folder without it, so a
missing font stops ``check-config`` and ``serve`` with its path instead of
failing at the first letter.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")
PLATE = re.compile(r"^([A-Z]{1,2})(\d{1,4})([A-Z]{0,3})$")


def missing_fonts(font_dir: Path) -> list[Path]:
    """The font files the letter needs that ``font_dir`` lacks."""
    return [font_dir / name for name in FONTS.values() if not (font_dir / name).is_file()]


def plate_shown(plate: str) -> str:
    """``KT1234AB`` as printed on the plate, ``KT 1234 AB``; any other form as stored."""
    m = PLATE.match(plate)
    return " ".join(p for p in m.groups() if p) if m else plate


def rupiah(amount: int | float | None) -> str:
    return "-" if amount is None else "Rp" + f"{int(amount):,}".replace(",", ".")


def date_id(local: datetime) -> str:
    """``Senin, 5 Januari 2026`` (the datetime already in local time)."""
    return f"{DAYS[local.weekday()]}, {local.day} {MONTHS[local.month - 1]} {local.year}"


def time_id(local: datetime, label: str) -> str:
    """``Senin, 5 Januari 2026 pukul 17:00:00 WITA``."""
    return f"{date_id(local)} pukul {local:%H:%M:%S} {label}"


@dataclass(frozen=True)
class Letter:
    """Everything printed, already in words (the caller knows the time zone and the deployment)."""

    reference: str
    issuer: str  # Polresta Balikpapan
    issued: str  # date of issue, in words
    owner_name: str
    owner_address: str
    plate: str
    make: str
    vehicle_type: str
    colour: str
    vehicle_class: str | None
    when: str  # time of the violation, WITA
    place: str
    position: str  # coordinates; for a mobile unit, its GPS fix at the moment of capture
    violation: str  # what was broken, in words
    law: str  # UU No. 22 Tahun 2009, Pasal 287 ayat (3)
    max_fine: str
    max_jail: str | None
    snapshot: Path | None  # the JPEG, or None when the evidence has no picture
    snapshot_sha256: str | None
    confirm_by: str  # H+8, in words
    pay_by: str  # H+15, in words
    confirm_at: str  # where to confirm online
    office: str  # where to confirm in person
    officer_name: str | None


def render(letter: Letter, font_dir: Path) -> bytes:
    """The letter as PDF bytes (blocking)."""
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 12, 18)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_creator("B-Connect")
    pdf.set_title(f"Surat Konfirmasi {letter.reference}")
    pdf.add_font("DejaVu", "", str(font_dir / FONTS[""]))
    pdf.add_font("DejaVu", "B", str(font_dir / FONTS["B"]))
    pdf.add_font("DejaVuMono", "", str(font_dir / FONTS["mono"]))
    pdf.add_page()

    def text(body: str, size: float = 9.5, style: str = "", h: float = 4.5) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.multi_cell(0, h, body, align="L", new_x="LMARGIN", new_y="NEXT")

    def heading(body: str) -> None:
        pdf.ln(1.5)
        text(body, 10.5, "B", 5.5)

    def row(label: str, value: str) -> None:
        pdf.set_font("DejaVu", "", 9.5)
        pdf.cell(42, 4.5, label)
        pdf.multi_cell(0, 4.5, f": {value}", align="L", new_x="LMARGIN", new_y="NEXT")

    text(letter.issuer.upper(), 10, "B")
    text("ELECTRONIC TRAFFIC LAW ENFORCEMENT (ETLE)", 9)
    pdf.ln(3)
    text("SURAT KONFIRMASI PELANGGARAN LALU LINTAS", 14, "B", 7)
    row("Nomor referensi", letter.reference)
    row("Tanggal surat", letter.issued)
    pdf.ln(2)
    text(f"Kepada Yth.\n{letter.owner_name}\n{letter.owner_address}", 10)
    pdf.ln(2)
    text("Kendaraan yang terdaftar atas nama Saudara/i tercatat oleh kamera ETLE melakukan pelanggaran "
         "lalu lintas sebagai berikut.")

    heading("Data kendaraan")
    row("Nomor polisi (TNKB)", plate_shown(letter.plate))
    row("Merek", letter.make)
    row("Tipe", letter.vehicle_type)
    row("Warna", letter.colour)
    if letter.vehicle_class:
        row("Jenis (kamera)", letter.vehicle_class)

    heading("Pelanggaran")
    row("Waktu", letter.when)
    row("Tempat", letter.place)
    row("Posisi", letter.position)
    row("Pelanggaran", letter.violation)
    row("Dasar hukum", letter.law)
    row("Denda maksimal", letter.max_fine)
    if letter.max_jail:
        row("Kurungan maksimal", letter.max_jail)
    if letter.officer_name:
        row("Diverifikasi oleh", letter.officer_name)

    heading("Bukti foto")
    if letter.snapshot is not None:
        pdf.image(str(letter.snapshot), w=90)  # 16:9 camera pictures: about 5 cm tall, the letter fits one page
    else:
        text("Foto tidak tersedia pada berkas ini; bukti tersimpan di pusat data ETLE.")
    if letter.snapshot_sha256:
        text("Sidik digital foto (SHA-256):", 8.5)
        pdf.set_font("DejaVuMono", "", 8)
        pdf.multi_cell(0, 4, letter.snapshot_sha256, align="L", new_x="LMARGIN", new_y="NEXT")

    heading("Konfirmasi")
    text(f"Batas waktu konfirmasi (H+8): {letter.confirm_by}.", 10, "B")
    text("Saudara/i wajib mengonfirmasi apakah kendaraan dikemudikan oleh pemilik sendiri atau oleh pengemudi "
         f"lain (sebutkan nama pengemudi), secara daring melalui {letter.confirm_at} atau datang langsung ke "
         f"{letter.office} dengan membawa surat ini dan STNK. Setelah konfirmasi, Saudara/i menerima kode "
         f"pembayaran (BRIVA) untuk membayar denda paling lambat {letter.pay_by} (H+15).")
    pdf.ln(1)
    text("Sanggahan: jika kendaraan tersebut bukan kendaraan Saudara/i atau data di atas keliru, ajukan "
         f"sanggahan (\"bukan kendaraan saya\") sebelum batas waktu konfirmasi melalui {letter.confirm_at} atau "
         f"di {letter.office}.")
    pdf.ln(1)
    text("Apabila tidak dikonfirmasi sampai batas waktu H+8, atau denda tidak dibayar sampai H+15, STNK "
         "kendaraan akan diajukan untuk diblokir. Pemblokiran dibuka setelah denda dibayar.")
    pdf.ln(2)
    text(f"Nomor referensi: {letter.reference}", 9)
    return bytes(pdf.output())


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, flushed, renamed.

    After a crash at any point the letter is absent or complete, never torn; a
    second writer of the same letter replaces it with identical content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself is on disk
    finally:
        os.close(fd)


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files a crash left behind (never a finished letter); returns how many."""
    if not folder.is_dir():
        return 0
    gone = 0
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        gone += 1
    return gone
