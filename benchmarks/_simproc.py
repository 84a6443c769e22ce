"""The simulator as a loopback server in its own process, with a ledger on stdin/stdout.

Started by `_common.SimServer`: ``python benchmarks/_simproc.py '<json settings>'``.
It prints the base URL on its first line, then answers one command per stdin line:

* ``usage KEY``: the account's `SimulatedUsage` as one JSON line;
* ``reset``: a new billing month for every account;
* EOF: exit.

The JSON settings: ``sites``, ``api_key`` (or ``api_keys``, one per account), ``now``
(aware ISO 8601), ``rate`` (calls per minute or null), ``credits`` (monthly or null),
``latency`` ([mean, jitter] seconds or null), ``zones`` (list or null), ``span_caps``
(bool, default true), ``seed``.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solaredge_async.testing import Faults, FleetSpec, Simulator, SimulatorConfig


def _simulator(settings: dict[str, object]) -> Simulator:
    from solaredge_async.testing._config import RESOLUTIONS  # noqa: PLC0415

    latency = settings.get("latency")
    zones = settings.get("zones")
    caps = {} if settings.get("span_caps", True) else {"span_caps": dict.fromkeys(RESOLUTIONS)}
    return Simulator(
        SimulatorConfig(
            seed=int(settings.get("seed", 0)),  # type: ignore[call-overload]
            fleet=FleetSpec(
                sites=int(settings.get("sites", 100)),  # type: ignore[call-overload]
                api_keys=tuple(str(k) for k in settings.get("api_keys") or [settings["api_key"]]),  # type: ignore[attr-defined]
                zones=tuple(zones) if isinstance(zones, list) else None,
            ),
            now=datetime.fromisoformat(str(settings["now"])),
            requests_per_minute=settings.get("rate"),  # type: ignore[arg-type]
            monthly_credits=settings.get("credits"),  # type: ignore[arg-type]
            faults=Faults(latency=tuple(latency) if isinstance(latency, list) else None),
            record_requests=0,
            **caps,  # type: ignore[arg-type]
        )
    )


def main() -> None:
    settings = json.loads(sys.argv[1])
    sim = _simulator(settings)
    ready = threading.Event()
    url: list[str] = []

    def on_ready(base_url: str) -> None:
        url.append(base_url)
        ready.set()

    thread = threading.Thread(
        target=sim.run_server,
        args=("127.0.0.1", 0),
        kwargs={"on_ready": on_ready},
        daemon=True,
    )
    thread.start()
    if not ready.wait(30):
        sys.exit("the simulator did not start")
    print(url[0], flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "usage":
            usage = sim.ledger(arg or None)
            print(
                json.dumps(
                    {
                        "calls": usage.calls,
                        "credits": usage.credits,
                        "minute_429s": usage.minute_429s,
                        "monthly_429s": usage.monthly_429s,
                        "statuses": {str(k): v for k, v in usage.statuses.items()},
                    }
                ),
                flush=True,
            )
        elif command == "reset":
            sim.reset_month()
            print("ok", flush=True)


if __name__ == "__main__":
    main()
