"""recsys.memory: the allocator settings the training and evaluating processes ask for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_settings_take_and_numpy_stops_asking_for_huge_pages():
    # In a child process: the settings are process-wide and the test process should keep its own.
    code = ("import numpy as np; from recsys.memory import reuse_freed_memory; "
            "took = reuse_freed_memory(); "
            "print(took, np._core.multiarray._set_madvise_hugepage(True)); "
            "a = np.ones((2000, 50_000), np.float32); del a; b = np.ones((2000, 50_000), np.float32); "
            "print(float(b.sum()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()
    assert out[:2] == ["True", "False"], out  # glibc took both settings; numpy's advice was off
    assert out[2] == str(float(2000 * 50_000)), out  # large blocks still allocate and hold their values
