"""Writing a PHI file: 0600, through a name nobody can plant, never over an existing file
unless asked, and nothing left behind when writing fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.private_files import FileExists, FileRefused, private_directory, write_private


def _write(text: str):
    def write(fh) -> int:
        fh.write(text)
        return len(text)

    return write


def test_new_file_is_0600_and_complete(tmp_path: Path) -> None:
    target = tmp_path / "r.csv"
    assert write_private(target, _write("a,b\r\n")) == 5
    assert target.read_bytes() == b"a,b\r\n"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert os.listdir(tmp_path) == ["r.csv"]


def test_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "important.txt"
    target.write_text("keep me")
    with pytest.raises(FileExists) as refused:
        write_private(target, _write("new"))
    assert "important.txt already exists" in str(refused.value) and "--force" in refused.value.hint
    assert target.read_text() == "keep me" and os.listdir(tmp_path) == ["important.txt"]
    write_private(target, _write("new"), overwrite=True)
    assert target.read_text() == "new"


def test_a_planted_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    shared = tmp_path / "shared"
    shared.mkdir()
    # the old fixed temporary name, and the target itself, planted as links to the victim
    (shared / ".r.csv.part").symlink_to(victim)
    (shared / "r.csv").symlink_to(victim)
    with pytest.raises(FileExists):
        write_private(shared / "r.csv", _write("phi"))
    write_private(shared / "r.csv", _write("phi"), overwrite=True)
    assert victim.read_text() == "precious"
    assert not (shared / "r.csv").is_symlink() and (shared / "r.csv").read_text() == "phi"
    assert oct((shared / "r.csv").stat().st_mode & 0o777) == "0o600"


def test_missing_directory_and_directory_target_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match=r"nonexistent: no such directory$"):
        write_private(tmp_path / "nonexistent" / "x.csv", _write(""))
    with pytest.raises(FileRefused, match="is a directory"):
        write_private(tmp_path, _write(""))


def test_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(fh) -> None:
        fh.write("half")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        write_private(tmp_path / "r.csv", broken)
    assert os.listdir(tmp_path) == []


def test_control_characters_in_the_path_are_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(FileRefused) as refused:
        write_private(tmp_path / "\x1b]52;c;eA==\x07" / "x.csv", _write(""))
    assert "\x1b" not in str(refused.value) and "\x07" not in str(refused.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: a read-only directory cannot refuse it")
def test_unwritable_directory_is_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(FileRefused, match="locked: permission denied"):
        write_private(locked / "x.csv", _write(""))


def test_private_directory_is_0700(tmp_path: Path) -> None:
    made = private_directory(tmp_path / "a" / "exports")
    assert oct(made.stat().st_mode & 0o777) == "0o700"
