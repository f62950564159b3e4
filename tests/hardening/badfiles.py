"""Bad uploads built at run time (nothing big committed): each a (bytes, file name) an upload might carry."""
import io
import zipfile
from functools import cache
from pathlib import Path

import pandas as pd

from cycling.simulate import study_cell
from cycling.testing import write_land

BAD_DIR = Path(__file__).resolve().parents[1] / "data" / "bad"


@cache
def records() -> pd.DataFrame:
    frame, _ = study_cell("coated", n_cycles=3, points_per_half_cycle=12, seed=11)
    return frame


def xlsx(frame: pd.DataFrame | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    write_land(records() if frame is None else frame, buf, **kw)
    return buf.getvalue()


def land_csv_lines() -> list[str]:
    buf = io.BytesIO()
    write_land(records(), buf, variant="csv", cycle_table=False)
    return buf.getvalue().decode("utf-8").split("\r\n")


def edit_record(row: int, column: int, value: str) -> bytes:
    """A LAND CSV with one record cell replaced (row counts records from 1; line 1 is the title, 2 the header)."""
    lines = land_csv_lines()
    cells = lines[row + 1].split(",")
    cells[column] = value
    lines[row + 1] = ",".join(cells)
    return "\r\n".join(lines).encode()


def workbook(build) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    build(book)
    book.close()
    return buf.getvalue()


def zip_bomb(declared: int = 0xFFFF_FFF0) -> bytes:
    """A small zip whose sheet claims ~4 GiB uncompressed (central directory size patched; data stays tiny)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (1024**2))
    data = bytearray(buf.getvalue())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:
        name_len = int.from_bytes(data[pos + 28 : pos + 30], "little")
        if data[pos + 46 : pos + 46 + name_len].endswith(b"sheet1.xml"):
            data[pos + 24 : pos + 28] = declared.to_bytes(4, "little")
        pos += 4
    return bytes(data)


def ratio_bomb() -> bytes:
    """64 MiB of zeros deflated to ~64 KiB: an absurd compression ratio for a worksheet."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (64 * 1024**2))
    return buf.getvalue()


def encrypted_workbook() -> bytes:
    """An OLE2 compound file holding an EncryptedPackage stream: what Excel writes for a password-protected .xlsx."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512


def corrupt_zip() -> bytes:
    good = xlsx()
    mid = len(good) // 3
    return good[:mid] + bytes((b ^ 0x5A) for b in good[mid : mid + 2048]) + good[mid + 2048 :]


def cycle_jump() -> bytes:
    frame = records().copy()
    frame.loc[frame["cycle"] >= 2, "cycle"] += 5  # 1, 7, 8: cycles 2-6 missing
    return xlsx(frame, cycle_table=False)


def time_backwards() -> bytes:
    frame = records().copy()
    frame.loc[20, "test_time_s"] = 5.0
    buf = io.BytesIO()
    write_land(frame, buf, variant="csv", cycle_table=False)
    return buf.getvalue()


def record_number_twice() -> bytes:
    frame = records().copy()
    frame.loc[30, "record"] = frame.loc[29, "record"]
    return xlsx(frame, cycle_table=False)


def garbled_units() -> bytes:
    lines = land_csv_lines()
    lines[1] = lines[1].replace("Current/mA", "Current/m\ufffd\ufffd", 1)
    return "\r\n".join(lines).encode()


# An Arbin csv without its discharge capacity column; an EC-Lab .mpt whose header count is one line short.
ARBIN = b"Data_Point,Test_Time(s),Step_Time(s),Current(A),Voltage(V),Charge_Capacity(Ah)\n1,0,0,0,3.1,0\n2,1,1,0.001,3.2,0\n"
BIOLOGIC_MPT = (b"EC-Lab ASCII FILE\r\nNb header lines : 4\r\n\r\nGalvanostatic Cycling with Potential Limitation\r\n"
                b"mode\tox/red\terror\tcontrol changes\ttime/s\tEwe/V\t<I>/mA\tcycle number\r\n"
                b"1\t1\t0\t0\t0.0\t3.1\t0.1\t0\r\n")
BIOLOGIC_MPR = b"BIO-LOGIC MODULAR FILE\x1a                         \x00\x00\x00\x00" + b"\x00\x01" * 200
# A Maccor text export with text where a voltage belongs (a good one imports).
MACCOR = (b"Today's Date 01/02/2021\nRec#\tCyc#\tStep\tTest (Min)\tAmp-hr\tAmps\tVolts\n1\t0\t1\t0\t0\t0\t3.1\n"
          b"2\t0\t1\t1\t0\t0\tabc\n")
OTHER_CSV = b"timestamp,temperature_C,humidity_percent\n2024-01-01T00:00:00,21.5,40\n2024-01-01T00:01:00,21.6,41\n"
HTML = b"<!DOCTYPE html>\n<html><head><title>Login</title></head><body>Session expired</body></html>"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def cases() -> dict[str, tuple[bytes, str]]:
    """Every bad upload, by a short id: (content, the file name the client sends)."""
    return {
        "empty": (b"", "empty.xlsx"),
        "whitespace-only": (b"  \r\n\r\n", "blank.csv"),
        "zero-row-sheet": (workbook(lambda b: b.add_worksheet("Record-Tab")), "zero_rows.xlsx"),
        "no-land-sheet": (workbook(lambda b: b.add_worksheet("Sheet1").write_row(0, 0, ["a", "b"])), "sheet1.xlsx"),
        "header-only": (xlsx(records().iloc[:0], cycle_table=False), "header_only.xlsx"),
        "truncated-xlsx": (xlsx()[: len(xlsx()) // 2], "truncated.xlsx"),
        "corrupt-zip": (corrupt_zip(), "corrupt.xlsx"),
        "zip-bomb-declared-4gib": (zip_bomb(), "bomb.xlsx"),
        "zip-bomb-ratio": (ratio_bomb(), "ratio_bomb.xlsx"),
        "password-protected": (encrypted_workbook(), "locked.xlsx"),
        "html-as-xlsx": (HTML, "export.xlsx"),
        "png": (PNG, "photo.xlsx"),
        "pdf": (PDF, "report.pdf"),
        "csv-of-something-else": (OTHER_CSV, "logger.csv"),
        "arbin": (ARBIN, "arbin.csv"),
        "biologic-mpt": (BIOLOGIC_MPT, "gcpl.mpt"),
        "biologic-mpr": (BIOLOGIC_MPR, "gcpl.mpr"),
        "maccor": (MACCOR, "maccor.txt"),
        "no-voltage-column": (xlsx(column_order=[i for i in range(17) if i != 7]), "no_voltage.xlsx"),
        "text-in-current": (edit_record(10, 3, "abc"), "text.csv"),
        # A NaN or missing voltage imports (see test_bad_uploads); the same gaps in the current refuse.
        "nan-current": (edit_record(4, 3, "NaN"), "nan.csv"),
        "inf-voltage": (edit_record(4, 7, "inf"), "inf.csv"),
        "missing-current": (edit_record(4, 3, "-"), "gap.csv"),
        "record-number-twice": (record_number_twice(), "dup.xlsx"),
        "time-backwards": (time_backwards(), "backwards.csv"),
        "garbled-units": (garbled_units(), "units.csv"),
        "no-current-unit": ("\r\n".join(land_csv_lines()).replace("Current/mA", "Current", 1).encode(), "nounit.csv"),
        "random-binary": (bytes((i * 197 + 13) % 256 for i in range(4096)), "noise.xlsx"),
    }
