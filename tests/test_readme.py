"""Every Python and shell example of README.md runs against the simulator.

Python blocks run as scripts in process, with `SolarEdgeClient` wired to an in-process
simulator (its transport and base URL, the client's pace lifted, unless the example
passes its own) and the simulator's key in ``SOLAREDGE_API_KEY``; a block that defines
``test_`` functions runs under pytest with the package's plugin. Shell blocks:
``solaredge-async`` lines run through `solaredge_async.cli.main` against a loopback
simulator named by ``SOLAREDGE_BASE_URL`` (with ``--requests-per-minute 0`` added: the
free-tier pace would only make them slow; a ``postgresql://`` store becomes a SQLite
file; a ``poll`` without ``--duration`` gets ``--duration 1`` and its metrics port
becomes 0, any free port), ``python3 noxfile.py -s demo`` runs the demo command, and
installs and the other nox sessions are skipped (CI runs those itself). Blocks run in
README order in one directory, so the queries find demo.db.

Configuration blocks (``ini``: systemd units; ``text``: cron lines) are not run, but
every ``solaredge-async`` command in them must be one a shell block runs, and every
``--flag`` the README names must be an option of the command line.
"""

# ruff: noqa: S603 - the pytest block runs in a child of this interpreter

from __future__ import annotations

import ast
import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from solaredge_async import cli
from solaredge_async.client import SolarEdgeClient
from solaredge_async.testing import FleetSpec, Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SKIPPED = ("pip ", "export ")
#: Real seconds a ``poll`` example without ``--duration`` runs for.
_POLL_SECONDS = 1
#: Flags of other tools the README names (systemctl, mypy).
_OTHER_FLAGS = frozenset({"--now", "--strict"})
_CONFIG_COMMAND = re.compile(r"(?:^|[\s=])(?:\S*/)?(solaredge-async\s[^>|;&\n]*)")
_DEV_SESSIONS = ("tests", "lint", "typecheck", "bench")


def _blocks(kinds: tuple[str, ...] = ("python", "sh")) -> list[tuple[str, str, int]]:
    text = README.read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in _FENCE.finditer(text)
        if m.group(1) in kinds
    ]


def _demo_command() -> tuple[str, ...]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DEMO_COMMAND" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))
    pytest.fail("noxfile.py has no DEMO_COMMAND")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for every block, in README order (demo.db is made first)."""
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module")
def loopback():
    """A loopback simulator: (base URL, key, simulator)."""
    from anyio.from_thread import start_blocking_portal

    key = "READMEEXAMPLEKEY000000000000000A"
    sim = Simulator(
        SimulatorConfig(
            fleet=FleetSpec(sites=3, api_keys=(key,)),
            requests_per_minute=None,
            monthly_credits=None,
        )
    )
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(sim.serve()) as url:
        yield url, key, sim


@pytest.fixture
def in_workdir(workdir: Path, loopback, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared directory as cwd, the loopback simulator in the environment."""
    url, key, _ = loopback
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("SOLAREDGE_API_KEY", key)
    monkeypatch.setenv("SOLAREDGE_BASE_URL", url)
    return workdir


def _logical_lines(block: str) -> list[str]:
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _run_shell_line(line: str, workdir: Path) -> None:
    words = shlex.split(line, comments=True)
    if not words or line.lstrip().startswith(_SKIPPED):
        return
    if words[:2] == ["python3", "noxfile.py"]:
        session = words[words.index("-s") + 1]
        if session in _DEV_SESSIONS:
            return
        assert session == "demo", line
        words = list(_demo_command())
    assert words[0] == "solaredge-async", f"a shell example the test cannot run: {line}"
    args = words[1:]
    if "--simulate" not in args:
        args += ["--requests-per-minute", "0"]
    if args[0] == "poll":
        args = _bounded_poll(args)
    args = [
        f"sqlite:///{workdir / 'postgres-stand-in.db'}" if a.startswith("postgresql://") else a
        for a in args
    ]
    status = cli.main(args)
    assert status == 0, f"{line!r} exited {status}"


def _bounded_poll(args: list[str]) -> list[str]:
    """A ``poll`` that ends by itself and binds no fixed port (another run may hold it)."""
    args = list(args)
    if "--metrics-port" in args:
        args[args.index("--metrics-port") + 1] = "0"
    if "--duration" not in args:
        args += ["--duration", str(_POLL_SECONDS)]
    return args


def _patched_client(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    real_init = SolarEdgeClient.__init__

    def init(self: SolarEdgeClient, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transport", sim.transport())
        kwargs.setdefault("base_url", sim.base_url)
        kwargs.setdefault("requests_per_minute", None)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(SolarEdgeClient, "__init__", init)


_BLOCKS = _blocks()


def test_the_readme_has_examples_of_both_kinds():
    """The extraction finds the README's Python and shell examples (a test that can fail)."""
    kinds = [kind for kind, _, _ in _BLOCKS]
    assert kinds.count("python") >= 4
    assert kinds.count("sh") >= 3


def test_the_quick_start_shows_the_demo_command():
    """The command the README says the demo runs is the one noxfile.py runs."""
    assert " ".join(_demo_command()) in README.read_text(encoding="utf-8")


def test_the_first_python_example_is_a_script():
    """The first example using the client runs as a script: no top-level async with."""
    first = next(
        code for kind, code, _ in _BLOCKS if kind == "python" and "SolarEdgeClient" in code
    )
    ast.parse(first)  # a top-level `async with` would be a SyntaxError here
    assert "anyio.run(" in first or "asyncio.run(" in first


@pytest.mark.loopback
@pytest.mark.parametrize(
    ("kind", "code", "line"), _BLOCKS, ids=[f"{k}-line{n}" for k, _, n in _BLOCKS]
)
def test_readme_example_runs(kind, code, line, in_workdir, loopback, monkeypatch, capsys):  # noqa: PLR0917
    """Each README example runs against the simulator without an error."""
    if kind == "sh":
        for command in _logical_lines(code):
            _run_shell_line(command, in_workdir)
        return
    script = in_workdir / f"example_line{line}.py"
    script.write_text(code, encoding="utf-8")
    if re.search(r"^(async )?def test_", code, re.MULTILINE):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)],
            cwd=in_workdir,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return
    sim = Simulator(
        SimulatorConfig(fleet=FleetSpec(sites=3), requests_per_minute=None, monthly_credits=None)
    )
    monkeypatch.setenv("SOLAREDGE_API_KEY", sim.api_key)
    _patched_client(monkeypatch, sim)
    runpy.run_path(str(script), run_name="__main__")
    assert capsys.readouterr().out.strip(), "the example printed nothing"


def _shell_commands() -> set[tuple[str, ...]]:
    """Every command the shell blocks run, as words (comments left out)."""
    commands = set()
    for kind, code, _ in _BLOCKS:
        if kind == "sh":
            commands.update(tuple(shlex.split(c, comments=True)) for c in _logical_lines(code))
    return commands


def test_configuration_commands_are_run_by_a_shell_block():
    """Each command a systemd unit or cron line runs is one a shell example runs."""
    run = _shell_commands()
    found = []
    for _, code, line in _blocks(("ini", "text")):
        for match in _CONFIG_COMMAND.finditer(code):
            words = tuple(shlex.split(match.group(1)))
            found.append(words)
            assert words in run, f"line {line}: {' '.join(words)!r} is in no shell example"
    assert len(found) >= 3  # the sync service, the cron line, the poll service


def _cli_flags() -> set[str]:
    import argparse

    from solaredge_async.testing import _cli as simulate_cli

    flags: set[str] = set()
    parsers = [cli.build_parser(), simulate_cli.build_parser()]
    while parsers:
        parser = parsers.pop()
        flags.update(parser._option_string_actions)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return flags


def test_every_flag_the_readme_names_exists():
    """No documented ``--flag`` is missing from the command line (renamed or removed)."""
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", README.read_text(encoding="utf-8")))
    unknown = sorted(named - _cli_flags() - _OTHER_FLAGS)
    assert not unknown, f"README names flags the command line does not have: {unknown}"
