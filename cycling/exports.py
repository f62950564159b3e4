"""Table downloads: CSV and XLSX of any (columns, rows) summary, headers carrying their units; user text in the
cells formula-guarded (assb_lab.escaping.spreadsheet_text)."""
from __future__ import annotations

import csv
import io
import re

from django.http import HttpResponse, HttpResponseBadRequest

from assb_lab.escaping import spreadsheet_text

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def to_csv(columns: list[tuple[str, str]], rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([label for _, label in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else spreadsheet_text(row.get(key)) for key, _ in columns])
    # BOM: Excel opens UTF-8 CSV (units like "mg/cm²") correctly only with it.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(columns: list[tuple[str, str]], rows: list[dict], *, sheet: str = "summary") -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    # User text is written as text: never read as a formula or turned into a link.
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "nan_inf_to_errors": True,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    ws = book.add_worksheet(re.sub(r"[\[\]:*?/\\]", "-", sheet)[:31] or "summary")
    head = book.add_format({"bold": True, "bg_color": "#eef1f6", "text_wrap": True, "valign": "top"})
    for j, (_, label) in enumerate(columns):
        ws.write(0, j, label, head)
        ws.set_column(j, j, max(10, min(32, len(label) + 2)))
    for i, row in enumerate(rows, start=1):
        for j, (key, _) in enumerate(columns):
            value = row.get(key)
            if isinstance(value, str):
                ws.write_string(i, j, spreadsheet_text(value))
            elif value is not None:
                ws.write(i, j, value)
    ws.freeze_panes(1, 0)
    book.close()
    return buf.getvalue()


def table_response(columns: list[tuple[str, str]], rows: list[dict], *, fmt: str, filename: str,
                   sheet: str = "summary") -> HttpResponse:
    """An attachment of the table in `fmt` (csv or xlsx); 400 for another format."""
    if fmt not in FORMATS:
        return HttpResponseBadRequest("format must be csv or xlsx")
    body = to_csv(columns, rows) if fmt == "csv" else to_xlsx(columns, rows, sheet=sheet)
    resp = HttpResponse(body, content_type=FORMATS[fmt])
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "table"
    resp["Content-Disposition"] = f'attachment; filename="{safe}.{fmt}"'
    return resp
