"""Replacing a file never leaves half of it, and the result is an ordinary file."""

from __future__ import annotations

import os
import stat

import pytest

from sdanet_gui.atomic import atomic_open, write_text
from sdanet_gui.errors import UserError


def test_new_file_follows_umask_and_replaced_file_keeps_mode(tmp_path):
    target = tmp_path / "out.json"
    old = os.umask(0o022)
    try:
        write_text(target, "one")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    os.chmod(target, 0o640)
    write_text(target, "two")
    assert target.read_text() == "two" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failure_inside_leaves_old_content_and_no_temp_files(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "saved")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "saved"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder_is_a_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    with pytest.raises(UserError, match="not writable"):
        write_text(ro / "x.txt", "data")


def test_disk_full_is_a_clear_error_and_old_file_survives(tmp_path):
    """Simulates a full disk with a file-size limit in a child process (RLIMIT_FSIZE)."""
    import subprocess
    import sys

    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096));"
            "from sdanet_gui.atomic import write_bytes; from sdanet_gui.errors import UserError\n"
            "try:\n write_bytes(sys.argv[1], b'x' * 100000)\nexcept UserError as e:\n print(e); sys.exit(3)")
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert str(target) in r.stdout
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]
