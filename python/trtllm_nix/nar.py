"""The NAR hash Nix records for a fixed-output derivation with ``outputHashMode = "recursive"``: SHA-256 of the
folder's Nix ARchive serialisation, written as an SRI string (``sha256-<base64>``). The format (Eelco Dolstra's
thesis, fig. 5.2; Nix's src/libutil/archive.cc): every string is its length as 8 little-endian bytes, the bytes,
and zero padding to a multiple of 8; a node is ``( type regular [executable ""] contents <bytes> )``,
``( type symlink target <t> )`` or ``( type directory entry ( name <n> node <node> ) ... )`` with entries sorted
by name. Only the executable bit of a file's mode is kept. tests/test_nar.py compares with Debian's nix-hash."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol


class _Sink(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _string(sink: _Sink, data: bytes) -> None:
    sink.update(len(data).to_bytes(8, "little"))
    sink.update(data)
    sink.update(b"\0" * (-len(data) % 8))


def _node(sink: _Sink, path: Path) -> None:
    info = path.lstat()
    _string(sink, b"(")
    _string(sink, b"type")
    if stat.S_ISLNK(info.st_mode):
        _string(sink, b"symlink")
        _string(sink, b"target")
        _string(sink, os.fsencode(path.readlink()))
    elif stat.S_ISDIR(info.st_mode):
        _string(sink, b"directory")
        for child in sorted(path.iterdir(), key=lambda p: os.fsencode(p.name)):
            _string(sink, b"entry")
            _string(sink, b"(")
            _string(sink, b"name")
            _string(sink, os.fsencode(child.name))
            _string(sink, b"node")
            _node(sink, child)
            _string(sink, b")")
    elif stat.S_ISREG(info.st_mode):
        _string(sink, b"regular")
        if info.st_mode & stat.S_IXUSR:
            _string(sink, b"executable")
            _string(sink, b"")
        _string(sink, b"contents")
        sink.update(info.st_size.to_bytes(8, "little"))
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                sink.update(chunk)
        sink.update(b"\0" * (-info.st_size % 8))
    else:
        raise ValueError(f"{path}: Nix archives hold only files, folders and symlinks")
    _string(sink, b")")


def nar_hash_sri(path: Path) -> str:
    digest = hashlib.sha256()
    _string(digest, b"nix-archive-1")
    _node(digest, path)
    return "sha256-" + base64.b64encode(digest.digest()).decode("ascii")
