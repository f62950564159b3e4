"""Byte-level mutations of real files for the readers' fuzz tests (one mutator, one strategy)."""
from hypothesis import strategies as st

# (kind, position, value): flip a byte, cut the file, insert three bytes, delete a run of bytes.
BYTE_EDITS = st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "delete"]), st.integers(0, 10**7),
                                st.integers(0, 255)), min_size=1, max_size=6)


def mutate(data: bytes, edits) -> bytes:
    """Apply BYTE_EDITS to a file's bytes; a flip always changes its byte."""
    buf = bytearray(data)
    for kind, pos, value in edits:
        if not buf:
            break
        i = pos % len(buf)
        if kind == "flip":
            buf[i] ^= value or 1
        elif kind == "cut":
            del buf[i:]
        elif kind == "insert":
            buf[i:i] = bytes([value]) * 3
        else:
            del buf[i : i + value + 1]
    return bytes(buf)
