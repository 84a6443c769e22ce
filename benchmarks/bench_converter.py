"""Converter benchmark: microseconds to parse the bodies every sweep parses.

Run ``python benchmarks/bench_converter.py [--json out.json]``. Reports medians (µs
per body) of:

* a 96-point single-metric day (``/energy``), lenient and strict, columnar (the
  public `Measurements`) and per point (a tuple of frozen ``Point`` records built by
  cattrs), with and without JSON decoding. Parsed timestamps are cached by their
  text (a sweep sees the same stamps in every response): ``_cold`` figures empty
  that cache before each parse, the others run with it warm;
* a 1,000-site ``/sites`` page, lenient and strict;
* an inverter-telemetry day (one inverter, four metrics of 96 quarter hours, ~21 KB);
* `parse_timestamp` and `datetime.fromisoformat` per call.

`run` returns the same figures as a dict, for the benchmark suite to aggregate.
"""

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solaredge_async.converters import (
    ResponseParser,
    _series,
    decode_json,
    make_converter,
    parse_timestamp,
)
from solaredge_async.models import Period, Resolution, Unit

#: The converter target (T7 in the perf notes): µs per 96-point day, lenient.
TARGET_DAY_US = 100.0

BERLIN = timezone(timedelta(hours=2))
DAY = datetime(2026, 5, 12, tzinfo=BERLIN)


# -- the per-point alternative, measured against the columnar record -----------------


@attrs.frozen(kw_only=True)
class Point:
    """One bucket (the per-point alternative to columnar series)."""

    timestamp: datetime
    value: float | None = None


@attrs.frozen(kw_only=True)
class PointMeasurements:
    """`Measurements` with a tuple of `Point` instead of two columns."""

    period: Period | None = None
    unit: Unit | str | None = None
    resolution: Resolution | str | None = None
    values: tuple[Point, ...] = ()


def per_point_converter() -> cattrs.Converter:
    """The library's lenient converter plus cattrs-generated hooks for the per-point records."""
    converter = make_converter(strict=False)
    converter.register_structure_hook(Point, make_dict_structure_fn(Point, converter))
    converter.register_structure_hook(
        PointMeasurements, make_dict_structure_fn(PointMeasurements, converter)
    )
    return converter


# -- bodies ----------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def energy_day() -> dict[str, object]:
    """A 96-quarter-hour ``/energy`` day: nulls at night, whole-number floats by day."""
    values: list[dict[str, object]] = []
    for i in range(96):
        moment = DAY + timedelta(minutes=15 * i)
        daylight = 21 <= i <= 84
        value = float(round(1600 * (1 - abs(i - 52) / 32))) if daylight else None
        values.append({"timestamp": _stamp(moment), "value": value})
    return {
        "period": {
            "from": _stamp(DAY),
            "to": "2026-05-12T23:59:59.123456789+02:00",
        },
        "unit": "WH",
        "resolution": "QUARTER_HOUR",
        "values": values,
    }


def sites_page(n: int = 1000) -> dict[str, object]:
    """A nested ``/sites`` page of ``n`` sites."""
    sites = [
        {
            "siteId": 4_000_000 + i,
            "name": f"Site {i}",
            "peakPower": 9.9 + i % 7,
            "installationDate": "2023-04-17T00:00:00+02:00",
            "location": {
                "address": f"Musterstr. {i}",
                "city": "Musterstadt",
                "state": "",
                "zip": "12345",
                "country": "Germany",
                "timezone": "Europe/Berlin",
            },
            "activationStatus": "ACTIVE",
            "note": "",
        }
        for i in range(n)
    ]
    return {"sites": {"count": n, "site": sites}}


def inverter_telemetry_day() -> dict[str, object]:
    """One inverter, power/energy/voltage/frequency at quarter hours for a day."""
    metrics: dict[str, object] = {}
    shapes: dict[str, tuple[str, Callable[[int], float]]] = {
        "power": ("W", lambda i: round(6400 * max(0.0, 1 - abs(i - 52) / 32), 4)),
        "energy": ("WH", lambda i: float(round(1600 * max(0.0, 1 - abs(i - 52) / 32)))),
        "voltage": ("VOLT", lambda i: round(230.0 + (i % 9) * 0.37311, 4)),
        "frequency": ("HERTZ", lambda i: round(50.0 + (i % 5) * 0.01171, 5)),
    }
    for name, (unit, fn) in shapes.items():
        metrics[name] = {
            "unit": unit,
            "values": [
                {"timestamp": _stamp(DAY + timedelta(minutes=15 * i)), "value": fn(i)}
                for i in range(96)
            ],
        }
    return {
        "period": {"from": _stamp(DAY), "to": _stamp(DAY + timedelta(days=1))},
        "resolution": "QUARTER_HOUR",
        "inverters": {"7A1B2C3D-4E": metrics},
    }


# -- timing ----------------------------------------------------------------------


def median_us(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.05) -> float:
    """Median µs per call over ``repeat`` runs, each long enough to time reliably."""
    timer = timeit.Timer(fn)
    number = 1
    while timer.timeit(number) < min_time:
        number *= 2
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6


def run(*, quick: bool = False) -> dict[str, float]:
    """Measure every figure; keys end in ``_us`` (µs per body or call) or ``_bytes``.

    Args:
        quick: Fewer, shorter repeats (for smoke tests).
    """
    repeat, min_time = (3, 0.005) if quick else (7, 0.05)

    def measure(fn: Callable[[], object]) -> float:
        return median_us(fn, repeat=repeat, min_time=min_time)

    lenient = ResponseParser(strict=False)
    strict = ResponseParser(strict=True)
    points = per_point_converter()

    day = energy_day()
    day_bytes = json.dumps(day).encode()
    page = sites_page()
    page_bytes = json.dumps(page).encode()
    telemetry = inverter_telemetry_day()
    telemetry_bytes = json.dumps(telemetry, separators=(",", ":")).encode()

    # Same answers from both shapes, or the comparison is meaningless.
    columnar = lenient.measurements(day, "/energy")
    per_point = points.structure(day, PointMeasurements)
    assert [p.value for p in per_point.values] == list(columnar.values)
    assert strict.measurements(day, "/energy") == columnar

    def cold(fn: Callable[[], object]) -> Callable[[], object]:
        # Empty the timestamp cache first: every stamp is parsed, as in a first response.
        def run_cold() -> object:
            _series._STAMPS.clear()  # noqa: SLF001
            return fn()

        return run_cold

    results = {
        "day96_columnar_lenient_cold_us": measure(
            cold(lambda: lenient.measurements(day, "/energy"))
        ),
        "day96_columnar_lenient_us": measure(lambda: lenient.measurements(day, "/energy")),
        "day96_columnar_strict_us": measure(lambda: strict.measurements(day, "/energy")),
        "day96_per_point_lenient_us": measure(lambda: points.structure(day, PointMeasurements)),
        "day96_decode_us": measure(lambda: decode_json(day_bytes, "/energy")),
        "day96_decode_and_columnar_lenient_us": measure(
            lambda: lenient.measurements(decode_json(day_bytes, "/energy"), "/energy")
        ),
        "sites1000_lenient_us": measure(lambda: lenient.sites_page(page, "/sites")),
        "sites1000_strict_us": measure(lambda: strict.sites_page(page, "/sites")),
        "sites1000_decode_us": measure(lambda: decode_json(page_bytes, "/sites")),
        "telemetry_day_lenient_cold_us": measure(
            cold(lambda: lenient.telemetry(telemetry, "/t", "inverters"))
        ),
        "telemetry_day_lenient_us": measure(
            lambda: lenient.telemetry(telemetry, "/t", "inverters")
        ),
        "telemetry_day_strict_us": measure(lambda: strict.telemetry(telemetry, "/t", "inverters")),
        "telemetry_day_decode_and_lenient_us": measure(
            lambda: lenient.telemetry(decode_json(telemetry_bytes, "/t"), "/t", "inverters")
        ),
        "telemetry_day_bytes": float(len(telemetry_bytes)),
        "parse_timestamp_us": measure(lambda: parse_timestamp("2026-05-12T00:15:00+02:00")),
        "fromisoformat_us": measure(lambda: datetime.fromisoformat("2026-05-12T00:15:00+02:00")),
        "parse_timestamp_9_digits_us": measure(
            lambda: parse_timestamp("2026-05-12T14:37:12.123456789+02:00")
        ),
    }
    results["day96_target_us"] = TARGET_DAY_US
    # Judged on the cold figure: the worst case, a day whose stamps were never seen.
    results["day96_target_met"] = float(results["day96_columnar_lenient_cold_us"] <= TARGET_DAY_US)
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the figures; with ``--json PATH`` also write them there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    results = run(quick=args.quick)
    width = max(map(len, results))
    for key, value in results.items():
        unit = "" if not key.endswith("_us") else " µs"
        print(f"{key:<{width}}  {value:10.2f}{unit}")
    verdict = "met" if results["day96_target_met"] else "NOT met"
    print(f"T7 (≤ {TARGET_DAY_US:.0f} µs per 96-point day, lenient, cold cache): {verdict}")
    if args.json is not None:
        payload = {
            "benchmark": "converter",
            "started": started.isoformat(),
            "python": sys.version.split()[0],
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
