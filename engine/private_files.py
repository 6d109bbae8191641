"""Files that hold PHI (results exports): created 0600 in the target's own directory under a
name nobody can guess, then moved into place, so a planted file or link there is never written
through and a reader never sees half a file. A file already at the target is replaced only when
the caller says so."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

from engine.errors import OperatorError
from engine.text import safe_text

T = TypeVar("T")

_CREATE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class FileRefused(OperatorError):
    """The file cannot be written where it was asked for."""


class FileExists(FileRefused):
    """The target exists and the caller did not ask to replace it."""


def shown(path: str | os.PathLike[str]) -> str:
    """A path as an operator may be shown it: no control character reaches the terminal."""
    return safe_text(os.fspath(path))


def private_directory(path: Path) -> Path:
    """`path`, created 0700 (with its parents) when missing."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o700)
    return path


def write_private(target: str | os.PathLike[str], write: Callable[[TextIO], T], *, overwrite: bool = False) -> T:
    """Call `write` with a new UTF-8 text file (mode 0600, `newline=""`) that becomes `target`
    once `write` returns; on any failure nothing is left behind and `target` is untouched."""
    target = Path(target)
    directory = target.parent
    if not directory.is_dir():
        raise FileRefused(f"{shown(directory)}: no such directory", "create it or choose another path")
    if target.is_dir():
        raise FileRefused(f"{shown(target)}: is a directory", "name a file in it")
    if not overwrite and _taken(target):
        raise _exists(target)
    tmp = directory / f".{target.name[:200]}.{secrets.token_hex(8)}.part"
    try:
        fd = os.open(tmp, _CREATE, 0o600)
    except PermissionError:
        raise FileRefused(f"{shown(directory)}: permission denied", "choose a directory you can write") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            value = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return value


def _taken(target: Path) -> bool:
    return target.exists() or target.is_symlink()


def _exists(target: Path) -> FileExists:
    return FileExists(f"{shown(target)} already exists", "choose another name, or pass --force to replace it")


def _link_new(tmp: Path, target: Path) -> None:
    """Move `tmp` to `target` unless something is there by now (a hard link fails atomically
    if so; on a file system without hard links, a last look has to do)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:
        if _taken(target):
            raise _exists(target) from None
        os.replace(tmp, target)
        return
    tmp.unlink()
