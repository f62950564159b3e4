"""The one text decoder: BOM, UTF-8, UTF-16, then Windows-1252/Latin-1 or GB18030 by the evidence in the bytes."""
import io

import pytest

from readers import ParseError, decode_text

ECLAB_HEAD = "EC-Lab ASCII FILE\nElectrode surface area : 1.130 cm²\nI Range : 10 µA\nT : 25 °C\n€ 1‰\n"
NEWARE_HEAD = "记录序号,循环序号,电流(mA),电压(V),容量(mAh)\n1,1,0.5,3.1,0.0\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_it_decodes_an_eclab_header_in_every_encoding_a_windows_pc_writes(encoding):
    text, found = decode_text(ECLAB_HEAD.encode(encoding))
    assert text.lstrip("\ufeff") == ECLAB_HEAD
    assert found == {"utf-16": "utf-16", "cp1252": "cp1252"}.get(encoding, encoding)


def test_it_calls_single_high_bytes_latin_1_when_no_windows_only_byte_is_there():
    text, found = decode_text("Surface : 1.13 cm²\tI : 10 µA\n".encode("cp1252"))
    assert (text, found) == ("Surface : 1.13 cm²\tI : 10 µA\n", "latin-1")


def test_it_reads_chinese_headers_as_gb18030_not_as_windows_1252():
    text, found = decode_text(NEWARE_HEAD.encode("gb18030"))
    assert (text, found) == (NEWARE_HEAD, "gb18030")


def test_it_does_not_read_a_micro_sign_before_a_letter_as_a_chinese_character():
    # 0xB5 0x41 ('µA') is a valid GB18030 pair: only the evidence (a lone high byte) says Windows-1252.
    text, found = decode_text(b"Current/\xb5A,Voltage/V\n1,2\n")
    assert text == "Current/µA,Voltage/V\n1,2\n" and found == "latin-1"


def test_it_reads_utf16_without_a_byte_order_mark():
    text, found = decode_text("Rec#\tCyc#\tAmps\n1\t0\t0.1\n".encode("utf-16-le"))
    assert text.startswith("Rec#\tCyc#") and found == "utf-16-le"


def test_it_keeps_a_text_file_with_a_stray_nul_and_control_byte_in_its_description():
    data = b"Today's Date\t01/01/2024\nDescription:\tcell \x00\x01 \xff batch 7\n" + b"Rec#\tCyc#\tAmps\n1\t0\t0.1\n" * 50
    text, found = decode_text(data)
    assert "cell \x01 ÿ batch 7" in text and "\x00" not in text and found == "latin-1"


def test_it_refuses_binary_noise_with_the_callers_words():
    noise = bytes((i * 197 + 13) % 256 for i in range(4096))
    with pytest.raises(ParseError, match="^not text, say so$"):
        decode_text(noise, binary_message="not text, say so")


def test_the_eis_reader_uses_the_same_decoder_for_a_windows_1252_eclab_file():
    from pathlib import Path

    from impedance.parsers import read_eis

    path = Path(__file__).resolve().parents[1] / "data" / "eis" / "impedancepy_exampleDataBioLogic.mpt"
    plain = read_eis(path)
    lines = path.read_bytes().split(b"\n")
    lines[3] = "Comments : cell µ-7 at 25 °C, 3 €".encode("cp1252")  # a header line; the block keeps its length
    spectrum = read_eis(io.BytesIO(b"\n".join(lines)), name="eclab.mpt")
    assert spectrum.metadata["encoding"] == "cp1252"
    assert spectrum.metadata["reader"] == "assb-lab eis biologic-mpt"
    assert (spectrum.freq_hz == plain.freq_hz).all() and (spectrum.z_ohm == plain.z_ohm).all()
