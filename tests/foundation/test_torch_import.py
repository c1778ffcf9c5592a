"""torch_import: the preload path really loads torch, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_import_torch_in_a_thread_of_a_fresh_interpreter():
    code = (
        "import sys, threading\n"
        "from sdanet_gui.torch_import import _preload_paths, import_torch\n"
        "assert _preload_paths(), 'torch libraries not found'\n"
        "out = {}\n"
        "t = threading.Thread(target=lambda: out.setdefault('t', import_torch()))\n"
        "t.start(); t.join()\n"
        "torch = out['t']\n"
        "assert torch is sys.modules['torch']\n"
        "print(float(torch.ones(3).sum()))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3.0"
