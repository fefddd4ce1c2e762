#!/usr/bin/env python3
"""Writes the tar fixtures tests/data/test_tar.cpp reads: make_tar_fixture.py [OUT_DIR].

fixtures/tarfile_ustar.tar  Python's tarfile, format=USTAR_FORMAT, every TarInfo field at its
                            default (mode 0o644, mtime 0, uid/gid 0, empty uname/gname): the bytes
                            jobs::TarWriter must reproduce exactly for the same members
fixtures/tarfile_gnu.tar    GNU_FORMAT: a long name through a '././@LongLink' 'L' header
fixtures/tarfile_pax.tar    PAX_FORMAT: a long and a non-ASCII name through 'x' headers, a folder

The members are MEMBERS below; test_tar.cpp builds the same list (member_bytes there is
member_bytes here). Python 3.11.4 and later leave devmajor/devminor empty for regular files
(older versions wrote "0000000"): regenerate with such a Python. The GNU and pax fixtures stop
after their two zero blocks (the reader needs no record padding); the ustar one keeps tarfile's
padding to a 10240-byte record, as the writer writes it.
"""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

LONG_DIR = "d" * 120  # a prefix tarfile must split off: the name alone is over 100 bytes
MEMBERS = [
    ("a/000.jpg", 0),
    ("a/000.cls", 1),
    ("a/001.jpg", 511),
    ("a/001.cls", 512),
    ("a/002.seg.png", 513),
    (f"{LONG_DIR}/{'n' * 90}.jpg", 1024),
    ("x" * 100, 7),  # exactly 100 bytes: the name field with no NUL after it
]


def member_bytes(index: int, size: int) -> bytes:
    """Contents that differ by member and by position: byte k is (31 * index + 7 * k) % 251."""
    return bytes((31 * index + 7 * k) % 251 for k in range(size))


def archive(fmt: int, members: list[tuple[str, int]], dirs: tuple[str, ...] = (),
            trim: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        for i, (name, size) in enumerate(members):
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(member_bytes(i, size)))
        end = tf.offset
    data = buf.getvalue()
    return data[:end] + bytes(1024) if trim else data


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "fixtures"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tarfile_ustar.tar").write_bytes(archive(tarfile.USTAR_FORMAT, MEMBERS))
    long_name = "g/" + "l" * 150 + "/" + "m" * 150 + ".jpg"  # 306 bytes: no ustar split fits
    (out / "tarfile_gnu.tar").write_bytes(
        archive(tarfile.GNU_FORMAT, [(long_name, 5), ("g/short.cls", 3)], trim=True))
    (out / "tarfile_pax.tar").write_bytes(
        archive(tarfile.PAX_FORMAT, [(long_name, 600), ("p/caf\u00e9.jpg", 2)], dirs=("p",),
                trim=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
