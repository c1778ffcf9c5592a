"""Never lose work: kill -9 mid-burst, a second program, stale locks, full disks, read-only folders."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdanet_gui.errors import UserError
from sdanet_gui.project.commands import AddSegment
from sdanet_gui.project.lock import LOCK_NAME
from sdanet_gui.project.store import Project

REPO = Path(__file__).resolve().parents[2]

BURST = r"""
import sys
from sdanet_gui.project.store import Project
from sdanet_gui.project.commands import AddSegment, MoveBoundary
p = Project.open(sys.argv[1])
vid = p.video("clip_a").id
i = 0
while True:
    start = i % 480
    cmd = AddSegment(vid, "Diving", start, start + 10)
    edit = cmd.apply(p)
    sid = cmd.changes[0].key
    edit2 = MoveBoundary(sid, "end", start + 15).apply(p)
    print(edit, edit2, sid, start, flush=True)   # acknowledged: both edits are committed
    i += 1
"""


def test_sigkill_in_a_burst_of_edits_loses_no_acknowledged_edit(make_project, tmp_path):
    make_project(tmp_path / "p").close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", BURST, str(tmp_path / "p")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    acked = []
    deadline = time.monotonic() + 60
    try:
        while len(acked) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked.append([int(x) for x in line.split()])
    finally:
        child.send_signal(signal.SIGKILL)   # mid-burst: it is still editing
        child.wait(10)
    assert len(acked) >= 40, child.stderr.read()
    # the killed program held the lock: reopening takes it over without any manual step
    with Project.open(tmp_path / "p") as p:
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        logged = {e.id for e in p.edit_log()}
        for edit, edit2, sid, start in acked:
            assert edit in logged and edit2 in logged
            seg = p.segment(sid)
            assert (seg.start_frame, seg.end_frame, seg.provenance) == (start, start + 15, "added")


HOLD = r"""
import sys, time
from sdanet_gui.project.store import Project
p = Project.open(sys.argv[1])
print("open", flush=True)
time.sleep(60)
"""

TRY_OPEN = r"""
import sys
from sdanet_gui.errors import UserError
from sdanet_gui.project.store import Project
try:
    Project.open(sys.argv[1])
    print("OPENED")
except UserError as e:
    print("ERROR", e)
ro = Project.open(sys.argv[1], read_only=True)
print("READONLY", len(ro.segments()))
"""


def test_a_second_program_is_told_who_holds_the_project_and_may_open_read_only(make_project,
                                                                               tmp_path, run_child):
    make_project(tmp_path / "p").close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "p")],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "open"
        out = run_child(TRY_OPEN, str(tmp_path / "p")).stdout
        import socket

        assert f"in use by pid {holder.pid} on host {socket.gethostname()}" in out
        assert "OPENED" not in out
        assert "READONLY 5" in out
        with pytest.raises(UserError, match=f"pid {holder.pid}"):
            Project.open(tmp_path / "p")
    finally:
        holder.kill()
        holder.wait(10)
    Project.open(tmp_path / "p").close()   # the dead holder's lock is taken over


def test_a_stale_lock_of_a_dead_process_is_taken_over(make_project, tmp_path):
    make_project(tmp_path / "p").close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    lock = tmp_path / "p" / LOCK_NAME
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "x"}))
    with Project.open(tmp_path / "p") as p:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        assert len(p.segments()) == 5


def test_a_lock_written_on_another_host_is_respected_with_a_way_out(make_project, tmp_path):
    make_project(tmp_path / "p").close()
    lock = tmp_path / "p" / LOCK_NAME
    lock.write_text(json.dumps({"pid": 4242, "host": "other-machine", "since": "x"}))
    with pytest.raises(UserError, match="in use by pid 4242 on host other-machine.*delete"):
        Project.open(tmp_path / "p")
    with Project.open(tmp_path / "p", read_only=True) as ro:
        assert len(ro.segments()) == 5


def test_opening_the_same_project_twice_in_one_process_is_refused(project, tmp_path):
    with pytest.raises(UserError, match="in use by pid"):
        Project.open(tmp_path / "proj")


def _bulk_rows(n):
    return [("Diving", i * 0.01, i * 0.01 + 0.005) for i in range(n)]


def test_a_full_database_limit_rolls_back_the_save_with_a_clear_error(project):
    """Simulates a full disk with SQLite's max_page_count: SQLite reports SQLITE_FULL exactly as
    for ENOSPC ("database or disk is full"), so the same error path runs; no real disk fills."""
    before = project.dump_human_tables()
    log_before = project.edit_log()
    pages = project.conn.execute("PRAGMA page_count").fetchone()[0]
    project.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(UserError, match="disk is full.*not saved"):
        project.add_imported_segments("clip_a", _bulk_rows(3000))
    project.conn.execute("PRAGMA max_page_count = 1073741823")
    assert project.dump_human_tables() == before
    assert project.edit_log() == log_before
    AddSegment(project.video("clip_a").id, "Diving", 0, 5).apply(project)   # still usable


DISK_FULL_CHILD = r"""
import resource, signal, sys, os
from sdanet_gui.errors import UserError
from sdanet_gui.project.store import Project
p = Project.open(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
limit = max(os.path.getsize(os.path.join(sys.argv[1], f)) for f in os.listdir(sys.argv[1])
            if os.path.isfile(os.path.join(sys.argv[1], f))) + 4096
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    p.add_imported_segments("clip_a", [("Diving", i * 0.01, i * 0.01 + 0.005) for i in range(20000)])
    print("SAVED")
except UserError as e:
    print("ERROR", e)
"""


def test_a_write_failing_for_lack_of_space_leaves_the_database_as_it_was(make_project, tmp_path,
                                                                       run_child):
    """Simulates a full disk in a child process with RLIMIT_FSIZE: the kernel refuses to grow
    any file past the limit (EFBIG), which reaches SQLite as a failed write in the middle of a
    large transaction, like ENOSPC would. The parent then checks the file on disk."""
    p = make_project(tmp_path / "p")
    before = p.dump_human_tables()
    p.close()
    out = run_child(DISK_FULL_CHILD, str(tmp_path / "p"))
    assert out.stdout.startswith("ERROR"), out.stdout + out.stderr
    assert "not saved" in out.stdout and "project.sqlite" in out.stdout
    with Project.open(tmp_path / "p") as again:
        assert again.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert again.dump_human_tables() == before


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 256 KiB filesystem (tmpfs), if this machine lets us mount one; else skip."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_really_full_disk_keeps_every_committed_edit(make_project, tiny_tmpfs):
    p = make_project(tiny_tmpfs / "p")
    try:
        before = p.dump_human_tables()
        with pytest.raises(UserError, match="project.sqlite"):
            p.add_imported_segments("clip_a", _bulk_rows(20000))
        assert p.dump_human_tables() == before
    finally:
        p.close()
    with Project.open(tiny_tmpfs / "p") as again:
        assert again.dump_human_tables() == before


READ_ONLY_CHILD = r"""
import os, sys
from sdanet_gui.errors import UserError
from sdanet_gui.project.store import Project     # import first: the interpreter lives under /root
os.setgid(65534); os.setuid(65534)               # a user who may read but not write here
try:
    Project.open(sys.argv[1])
    print("OPENED")
except UserError as e:
    print("ERROR", e)
"""
READ_ONLY_VIEW = r"""
try:
    ro = Project.open(sys.argv[1], read_only=True)
    print("READONLY", len(ro.segments()))
except UserError as e:
    print("ROERROR", e)
"""
READ_ONLY_CHILD += READ_ONLY_VIEW


def _others_may_enter(tmp_path) -> None:
    """The folders above tmp_path: others may enter and list (the child runs as nobody)."""
    for d in (tmp_path, *tmp_path.parents):
        if d == Path("/"):
            break
        os.chmod(d, os.stat(d).st_mode | 0o005)


def test_a_read_only_folder_gives_a_clear_message_and_a_read_only_view(make_project, tmp_path,
                                                                      run_child):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the child as an unprivileged user")
    make_project(tmp_path / "p").close()
    _others_may_enter(tmp_path)
    os.chmod(tmp_path / "p", 0o755)
    out = run_child(READ_ONLY_CHILD, str(tmp_path / "p"), cwd="/")
    assert "ERROR" in out.stdout and "not writable" in out.stdout, out.stdout + out.stderr
    assert "READONLY 5" in out.stdout, out.stdout + out.stderr
    with sqlite3.connect(tmp_path / "p" / "project.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


KILLED_WRITER = r"""
import os, sys
from sdanet_gui.project.store import Project
p = Project.open(sys.argv[1])
p.add_imported_segments("clip_a", [("Diving", 20.0, 21.0)])   # committed, still only in the WAL
os.kill(os.getpid(), 9)
"""

READ_ONLY_OPEN = r"""
import os, sys
from sdanet_gui.errors import UserError
from sdanet_gui.project.store import Project
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)           # root writes anywhere: be a plain user
""" + READ_ONLY_VIEW


def test_a_killed_project_on_read_only_media_without_its_shm_says_so(make_project, tmp_path,
                                                                    run_child):
    """A project killed while open keeps its latest commits in project.sqlite-wal. Copied to
    read-only media without the -shm file, SQLite can only show the older database: the open
    says so instead of showing it silently."""
    folder = tmp_path / "p"
    make_project(folder).close()
    out = run_child(KILLED_WRITER, str(folder))
    assert out.returncode == -9, out.stderr
    wal = folder / "project.sqlite-wal"
    assert wal.stat().st_size > 0
    (folder / "project.sqlite-shm").unlink()
    (folder / "project.lock").unlink(missing_ok=True)
    _others_may_enter(tmp_path)
    for f in folder.iterdir():
        os.chmod(f, 0o644 if f.is_file() else 0o755)
    os.chmod(folder, 0o555)                            # the read-only medium
    try:
        out = run_child(READ_ONLY_OPEN, str(folder), cwd="/")
    finally:
        os.chmod(folder, 0o755)
    assert "ROERROR" in out.stdout, out.stdout + out.stderr
    assert "not closed cleanly" in out.stdout and "project.sqlite-wal" in out.stdout
    # back on writable storage the latest commit is there
    with Project.open(folder, read_only=True) as ro:
        assert len(ro.segments()) == 6
