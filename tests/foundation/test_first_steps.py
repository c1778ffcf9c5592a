"""A new user's first steps: `./dev` explains itself, and the README's commands can run as
written from a fresh checkout (no program assumed on the PATH)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_dev(*args):
    return subprocess.run(["bash", str(REPO / "dev"), *args], capture_output=True, text=True,
                          timeout=30)


def test_dev_without_a_command_prints_its_usage_not_its_source():
    out = run_dev()
    assert out.returncode == 2
    text = out.stdout
    assert text.startswith("usage: ./dev COMMAND")
    for command in ("app", "test", "sdanet", "bench", "setup", "help"):
        assert re.search(rf"^  {command}\b", text, re.M), command
    assert "#" not in text and "set -euo" not in text      # no lines of the script itself
    assert run_dev("help").returncode == 0 and run_dev("help").stdout == text


def test_dev_refuses_an_unknown_command_or_benchmark_without_setting_up():
    out = run_dev("frobnicate")
    assert out.returncode == 2 and "unknown command: frobnicate" in out.stderr
    out = run_dev("bench", "no_such_benchmark")
    assert out.returncode == 2 and "no benchmark named no_such_benchmark" in out.stderr
    assert "installing" not in out.stderr


def test_readme_commands_name_a_program_a_fresh_checkout_has():
    """Every shell line in the README's code blocks starts with ./dev, .venv/bin/..., python3 or
    a comment: a bare `sdanet ...` fails with 'not on PATH' before the environment is active."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    lines = [ln.strip() for block in blocks for ln in block.splitlines() if ln.strip()]
    assert any(ln.startswith("./dev sdanet synth") for ln in lines)
    for line in lines:
        assert re.match(r"(\./dev |\.venv/bin/|python3 |#)", line), line
