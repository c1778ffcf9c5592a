"""A newcomer's first contact: both commands answer, the engine imports without Qt, the window
opens and closes, bundled files are found."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sdanet_gui


def _run(*args, env_home=None):
    import os

    env = dict(os.environ)
    if env_home:
        env["SDANET_GUI_HOME"] = str(env_home)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("layer", ["sdanet_gui.sdanet", "sdanet_gui.data", "sdanet_gui.media",
                                   "sdanet_gui.project", "sdanet_gui.cli"])
def test_engine_layers_import_without_qt(layer):
    code = (f"import sys, importlib, pkgutil; m = importlib.import_module('{layer}');\n"
            "[importlib.import_module(f'{m.__name__}.{i.name}') for i in pkgutil.iter_modules(getattr(m, '__path__', []))];\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'));\n"
            "print(bad); sys.exit(1 if bad else 0)")
    r = _run("-c", code)
    assert r.returncode == 0, r.stdout + r.stderr


def test_gui_entry_does_not_import_torch_or_decord_at_start():
    code = ("import sys; import sdanet_gui.app, sdanet_gui.ui.shell.main_window;"
            "bad = [k for k in ('torch', 'decord', 'av', 'cv2', 'h5py') if k in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = _run("-c", code)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("module,prog", [("sdanet_gui.cli", "sdanet"), ("sdanet_gui.app", "sdanet-gui")])
def test_help_and_version(module, prog, tmp_path):
    r = _run("-m", module, "--version", env_home=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == f"{prog} {sdanet_gui.__version__}"
    r = _run("-m", module, "--help", env_home=tmp_path)
    assert r.returncode == 0 and "usage:" in r.stdout


def test_sdanet_help_lists_subcommands(tmp_path):
    r = _run("-m", "sdanet_gui.cli", "--help", env_home=tmp_path)
    assert "paths" in r.stdout


def test_unknown_subcommand_is_one_line_and_exit_2(tmp_path):
    r = _run("-m", "sdanet_gui.cli", "frobnicate", env_home=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "frobnicate" in lines[0] and "Traceback" not in r.stderr


def test_paths_prints_platform_dirs(tmp_path):
    r = _run("-m", "sdanet_gui.cli", "paths", "--json", env_home=tmp_path)
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)
    assert set(paths) >= {"config", "cache", "data", "log", "log_file"}
    assert all(v.startswith(str(tmp_path)) for v in paths.values())


def test_verbose_writes_rotating_log(tmp_path):
    r = _run("-m", "sdanet_gui.cli", "-v", "paths", env_home=tmp_path)
    assert r.returncode == 0
    assert (tmp_path / "log" / "sdanet-gui.log").exists()


def test_bundled_model_folder_is_found():
    from sdanet_gui.bundled import model_files, resource_files

    assert model_files().joinpath("presets").is_dir()
    assert resource_files().is_dir()


def test_wheel_carries_model_and_resources(tmp_path):
    """A non-editable install must find presets through importlib.resources."""
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(repo), "--no-deps", "--no-build-isolation",
                        "-w", str(tmp_path), "-q"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(tmp_path.glob("sdanet_gui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "sdanet_gui/model/presets/thumos14.json" in names
    assert "sdanet_gui/resources/__init__.py" in names
    assert not [n for n in names if n.startswith("tests/") or "mmaction2__" in n]  # no test files
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    code = ("import sdanet_gui, sys; from sdanet_gui.bundled import model_files;"
            "assert sdanet_gui.__file__.startswith(sys.argv[1]), sdanet_gui.__file__;"
            "assert model_files().joinpath('presets', 'thumos14.json').is_file()")
    import os

    env = {**os.environ, "PYTHONPATH": str(target)}
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_closed_pipe_is_not_an_error(tmp_path):
    """`sdanet eval ... | head`: the reader leaving early must not print an internal error.

    The read end is closed before the child interpreter has even started, so its first write
    always meets a closed pipe."""
    import os

    env = {**os.environ, "SDANET_GUI_HOME": str(tmp_path)}
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        r = subprocess.run([sys.executable, "-m", "sdanet_gui.cli", "paths"], stdout=write_fd,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write_fd)
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
