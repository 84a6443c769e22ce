"""Property: any damage to a sweep's manifest gives a clear error, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solaredge_async import cli
from solaredge_async.cli._commands import Options, UsageError, resumed_options, sweep_spec
from solaredge_async.cli._output import OutputError, read_manifest

VALID: dict[str, Any] = {
    "format_version": 1,
    "tool": "solaredge-async 0",
    "created": "2026-05-12T14:37:00+00:00",
    "sweep": {
        "what": ["overview", "energy"],
        "sites": None,
        "start": "yesterday",
        "end": "yesterday",
        "resolution": None,
        "format": "jsonl",
        "prefer_bulk": True,
        "split_overview": False,
        "only_open_alerts": False,
        "simulate": True,
        "sim_sites": 12,
        "sim_seed": 0,
        "base_url": None,
        "now": "2026-05-12T14:37:00+00:00",
    },
    "output": {"format": "jsonl", "data": "records.jsonl"},
    "plan": {"sites": 12, "items": 24},
    "runs": [{"run": 1, "status": "interrupted"}],
    "complete": False,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid manifest with fields replaced by any JSON or deleted, or torn bytes."""
    manifest = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        inner = draw(st.booleans())
        target = (
            manifest["sweep"] if inner and isinstance(manifest.get("sweep"), dict) else manifest
        )
        key = draw(st.sampled_from(sorted(target) or ["x"]))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(json_values)
    text = json.dumps(manifest)
    if draw(st.integers(0, 9)) == 0:  # torn or garbled bytes
        cut = draw(st.integers(0, len(text)))
        return text[:cut].encode() + draw(st.binary(max_size=8))
    return text.encode()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=damaged())
def test_any_damaged_manifest_is_refused_clearly_or_read_whole(tmp_path, data):
    """OutputError/UsageError with a message, or options good enough to plan a sweep."""
    (tmp_path / "manifest.json").write_bytes(data)
    args = cli.build_parser().parse_args(["sweep", "--out", str(tmp_path), "--resume"])
    refused = ""
    try:
        manifest = read_manifest(tmp_path)
        options = resumed_options(args, manifest)
    except (OutputError, UsageError) as exc:
        refused = str(exc)
    if refused:
        assert "manifest" in refused or "differs" in refused or "made against" in refused
        return
    assert isinstance(options, Options)
    assert isinstance(manifest["runs"], list)
    assert isinstance(manifest["complete"], bool)
    sweep_spec(options)  # must not raise


def test_the_valid_template_is_read(tmp_path):
    """The property's starting point is itself a readable manifest."""
    (tmp_path / "manifest.json").write_text(json.dumps(VALID))
    args = cli.build_parser().parse_args(["sweep", "--out", str(tmp_path), "--resume"])
    options = resumed_options(args, read_manifest(tmp_path))
    assert options.what == ("overview", "energy")


@pytest.mark.parametrize("runs", ["{}", "null", "3", '"a"'])
def test_runs_not_a_list_exits_2_end_to_end(tmp_path, capsys, runs):
    """The reported crash: ``runs`` not a list gave AttributeError; now exit 2 and a message."""
    text = json.dumps(VALID).replace(
        '"runs": [{"run": 1, "status": "interrupted"}]', f'"runs": {runs}'
    )
    (tmp_path / "manifest.json").write_text(text)
    assert cli.main(["sweep", "--out", str(tmp_path), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'runs' is" in err
    assert "Traceback" not in err
