"""Find or build a video's scrubbing proxy in the background, and serve its frames by index.

`ProxyService(info, folder, deliver)` starts one thread that (1) looks for this video's proxy in
`folder` (keyed by the video's fingerprint, so a moved file keeps its proxy and a changed one
gets a new one) and opens it if it is whole (proxy_file.py checks), else (2) builds it in a
CHILD PROCESS at a low CPU priority (`python -m sdanet_gui.media.proxy`, nice NICE): the decode of the
whole video runs outside this process, so neither the GIL nor the CPU it takes can stall the
window or the frame server's own decoding, and a crash there costs only the proxy. The file is
written to a temporary name and renamed when whole (atomic.atomic_path); a build that is
cancelled (the video was closed) or fails leaves nothing behind. (3) Once the proxy is open,
`want(index)` asks for a frame; the latest request wins and the thread calls
`deliver(index, frame)` with a `ProxyFrame`. A proxy found damaged while serving is deleted and
built again once.

The folder is kept under `max_bytes` by removing the least recently used proxies after each
build. The UI thread only calls `want`, `close` and reads the state; nothing here blocks it.
Never imports Qt.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from ..atomic import atomic_path
from ..errors import Cancelled, UserError
from .fingerprint import fingerprint
from .probe import VideoInfo, probe_video
from .proxy_file import PROXY_BOX, ProxyDamaged, ProxyFile, ProxyFrame, ProxyInvalid, proxy_size, \
    write_proxy

log = logging.getLogger(__name__)

SUFFIX = ".sdproxy"
MAX_FOLDER_BYTES = 10 * 1024 ** 3
POLL_S = 0.1
# The child's CPU priority: low, so scrubbing and playback in the window win the cores, but not
# the lowest: at nice 19, on a machine kept busy by other work (load average 10), the proxy of a
# 30 s 1080p video took 231 s instead of 11 s at load 4 (benchmarks/media.py); a fine-tuning run
# (nice 0, minutes long) would hold it back the same way.
NICE = 10
STALE_TMP_S = 3600.0       # a temporary file untouched this long belongs to no running build

# states, in the order they happen
OFF, LOOKING, BUILDING, READY, NOT_NEEDED, FAILED, CANCELLED = \
    "off", "looking", "building", "ready", "not needed", "failed", "cancelled"


def default_folder() -> Path:
    """Where the app keeps proxies: the platform's cache dir (paths.py), shared by projects."""
    from ..paths import app_paths

    return app_paths().cache / "proxies"


def proxy_name(video_fingerprint: str) -> str:
    """The proxy's file name for a video fingerprint ("v1:<size>:<hash>")."""
    version, size, digest = video_fingerprint.split(":")
    return f"{digest}-{size}{SUFFIX}"


def folder_bytes(folder: str | os.PathLike) -> int:
    """Disk use of the proxies in `folder` (bytes)."""
    return sum(p.stat().st_size for p in _proxies(Path(folder)))


def prune(folder: str | os.PathLike, max_bytes: int = MAX_FOLDER_BYTES,
          keep: Path | None = None) -> list[Path]:
    """Remove the least recently used proxies until `folder` holds at most `max_bytes` (never
    `keep`), and temporary files no build has touched for STALE_TMP_S. Returns what went."""
    folder = Path(folder)
    gone = []
    now = time.time()
    for tmp in folder.glob(f".*{SUFFIX}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_S:
                tmp.unlink()
                gone.append(tmp)
        except OSError:
            pass
    files = sorted(_proxies(folder), key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    for p in files:
        if total <= max_bytes:
            break
        if keep is not None and p == keep:
            continue
        try:
            size = p.stat().st_size
            p.unlink()
        except OSError:
            continue
        total -= size
        gone.append(p)
    return gone


def _proxies(folder: Path) -> list[Path]:
    return [p for p in folder.glob(f"*{SUFFIX}") if p.is_file()] if folder.is_dir() else []


class ProxyService:
    """One video's proxy: found or built in the background, then frames on request.

    Attributes the UI may read: state (OFF ... CANCELLED above), reason (why FAILED or
    NOT_NEEDED), path, nbytes (the proxy's size on disk once READY), build_s (seconds the build
    took, None when found), served, proxy (the open ProxyFile, proxy thread only).
    """

    def __init__(self, info: VideoInfo, folder: str | os.PathLike,
                 deliver: Callable[[int, ProxyFrame], None], *, box: tuple[int, int] = PROXY_BOX,
                 max_bytes: int = MAX_FOLDER_BYTES, name: str = "proxy"):
        self.info = info
        self.folder = Path(folder)
        self.box = (int(box[0]), int(box[1]))
        self.max_bytes = int(max_bytes)
        self._deliver = deliver
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._stop = False
        self._child: subprocess.Popen | None = None
        self.proxy: ProxyFile | None = None
        self.state = OFF
        self.reason: str | None = None
        self.path: Path | None = None
        self.nbytes = 0
        self.build_s: float | None = None
        self.served = 0
        self._settled = threading.Event()     # READY or a final state reached
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- any thread --------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == READY

    @property
    def child(self):
        """The building child process (subprocess.Popen), or None when none is running."""
        return self._child

    def want(self, index: int | None) -> None:
        """Ask for proxy frame `index` (None: forget the request); returns at once."""
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Wait until the proxy is ready or will not be (benchmarks and tests; never the UI)."""
        return self._settled.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving; a build in progress is killed and its temporary file removed."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
            try:
                child.wait(timeout)   # gone (and reaped) when close returns
            except subprocess.TimeoutExpired:
                log.warning("%s: the proxy builder did not end within %.0f s", self.info.path, timeout)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # --- proxy thread ------------------------------------------------------------------------
    def _set(self, state: str, reason: str | None = None) -> None:
        self.state, self.reason = state, reason
        if state not in (LOOKING, BUILDING):
            self._settled.set()

    def _run(self) -> None:
        try:
            if self._find_or_build():
                self._serve()
        except Cancelled:
            self._set(CANCELLED)
        except Exception as exc:  # noqa: BLE001 - no proxy is never an error for the user
            log.warning("%s: no scrubbing proxy (%s)", self.info.path, exc)
            self._set(FAILED, str(exc) or type(exc).__name__)
        finally:
            if self.proxy is not None:
                self.proxy.close()
            self._settled.set()

    def _find_or_build(self) -> bool:
        self._set(LOOKING)
        if proxy_size(self.info, self.box) is None:
            self._set(NOT_NEEDED, f"the video fits in {self.box[0]}x{self.box[1]}")
            return False
        fp = fingerprint(self.info.path)
        self.path = self.folder / proxy_name(fp)
        if self._open(fp, self.path):
            return True
        self._build(fp, self.path)
        if not self._open(fp, self.path):
            raise RuntimeError(f"the proxy just built does not open: {self.reason}")
        return True

    def _open(self, fp: str, path: Path) -> bool:
        if not path.exists():
            return False
        try:
            proxy = ProxyFile.open(path, fp, self.info.frame_count, self.box)
        except ProxyInvalid as exc:
            self.reason = str(exc)
            log.info("%s: proxy %s is not usable (%s); building it again", self.info.path, path, exc)
            path.unlink(missing_ok=True)
            return False
        try:
            os.utime(path)                     # recently used: pruned last
        except OSError:
            pass
        self.proxy, self.nbytes = proxy, proxy.nbytes
        self._set(READY)
        return True

    def _build(self, fp: str, path: Path) -> None:
        self._set(BUILDING)
        t0 = time.perf_counter()
        with atomic_path(path) as tmp, tempfile.TemporaryFile() as errors:
            cmd = [sys.executable, "-m", __name__, str(self.info.path), str(tmp), "--fingerprint", fp,
                   "--box", f"{self.box[0]}x{self.box[1]}"]
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[2])    # the same sdanet_gui as ours
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
            with self._cond:
                if self._stop:
                    raise Cancelled()
                self._child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=errors, env=env)
            try:
                while self._child.poll() is None:
                    with self._cond:
                        if self._stop:
                            raise Cancelled()
                        self._cond.wait(POLL_S)
            finally:
                if self._child.poll() is None:
                    self._child.kill()
                self._child.wait()
            if self._child.returncode != 0:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(f"building it failed ({lines[-1] if lines else self._child.returncode})")
            ProxyFile.open(tmp, fp, self.info.frame_count, self.box).close()
        self.build_s = time.perf_counter() - t0
        log.info("%s: proxy built in %.1f s (%.1fx real time), %d bytes", self.info.path,
                 self.build_s, self.info.clock.duration / max(self.build_s, 1e-6), path.stat().st_size)
        for gone in prune(self.folder, self.max_bytes, keep=path):
            log.info("removed the least recently used proxy %s", gone)

    def _serve(self) -> None:
        rebuilt = False
        while True:
            with self._cond:
                while self._wanted is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                index, self._wanted = self._wanted, None
            try:
                frame = self.proxy.frame(index)
            except ProxyDamaged as exc:
                if rebuilt:
                    raise
                log.warning("%s: %s; building the proxy again", self.info.path, exc)
                self.proxy.close()
                self.proxy = None
                self.path.unlink(missing_ok=True)
                rebuilt = True
                if not self._find_or_build():
                    return
                with self._cond:
                    if self._wanted is None:      # still wanted unless a newer request came
                        self._wanted = index
                continue
            if frame is not None:
                self.served += 1
                self._deliver(index, frame)


# --- the child process -------------------------------------------------------------------------
def main(argv=None) -> int:
    """`python -m sdanet_gui.media.proxy VIDEO OUT --fingerprint FP --box WxH`: write VIDEO's
    proxy to OUT at a low priority; stops when its parent goes away."""
    ap = argparse.ArgumentParser(description="Build a video's scrubbing proxy (a child process).")
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--fingerprint", required=True)
    ap.add_argument("--box", default=f"{PROXY_BOX[0]}x{PROXY_BOX[1]}")
    ap.add_argument("--threads", type=int, default=0, help="decoder threads (0: as many as useful)")
    args = ap.parse_args(argv)
    try:
        os.nice(NICE)
    except OSError:
        pass
    parent = os.getppid()
    box = tuple(int(v) for v in args.box.split("x"))
    try:
        info = probe_video(args.video)
        write_proxy(info, args.out, args.fingerprint, box, threads=args.threads,
                    keep_going=lambda: os.getppid() == parent)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
