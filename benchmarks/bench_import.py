"""Import time of ``solaredge_async``: a fresh interpreter per sample, median of 5.

Times ``import solaredge_async`` (what T8 asks), with bytecode cached as after an
install, and, for reference, the first use of ``SolarEdgeClient`` (which loads httpx,
anyio, attrs, cattrs and tenacity), inside the child process, excluding the
interpreter's own start-up.

Run: ``python benchmarks/bench_import.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from _common import ROOT, median

_CHILD = """
import time
t0 = time.perf_counter()
import solaredge_async
t1 = time.perf_counter()
solaredge_async.SolarEdgeClient
t2 = time.perf_counter()
print(t1 - t0, t2 - t0)
"""


def run(*, quick: bool = False) -> dict[str, float]:
    """Median import times in milliseconds (``import_ms``, ``import_client_ms``)."""
    samples = 3 if quick else 5
    bare: list[float] = []
    client: list[float] = []
    # As installed: bytecode cached (the first, uncounted run writes it, outside the tree).
    cache = tempfile.mkdtemp(prefix="se-pycache-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    for i in range(samples + 1):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        ).stdout.split()
        if i == 0:
            continue
        bare.append(float(out[0]) * 1000)
        client.append(float(out[1]) * 1000)
    shutil.rmtree(cache, ignore_errors=True)
    return {"import_ms": median(bare), "import_client_ms": median(client)}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
