r"""The sweep's output directory: flat rows, a journal of finished items, a manifest.

Layout of ``--out DIR``::

    manifest.json     the sweep's options, plan, and one summary per run (no secrets)
    records.jsonl     flat rows (or records.csv, or records/part-NNNNNN.parquet)
    journal.tsv       finished items ("i\t<item id>"), each batch closed by a commit
                      line ("c\t<data size in bytes, or Parquet part number>")
    errors.jsonl      items that failed or were not attempted, one line each, per run

Writing is crash-safe without ever writing an item twice. Rows are appended in
batches. After a batch's rows are flushed, the batch's item ids and a commit line
carrying the data file's size (for Parquet: the part number) are appended to the
journal in one write. On resume only batches closed by a commit line count: the
data file is truncated back to the last committed size (or the Parquet parts after
the last committed number are deleted), the journal is cut after its last commit
line, and the committed items are skipped. Rows written by a crashed run past the
last commit are dropped and their items fetched again, so no item is written twice.

A batch is committed when it holds 500 items or 1 MiB, and on a timer (the sweep
commits what is queued at least every 10 s, see `OutputStore.commit_due`). A write
that fails (a full disk) leaves the store broken: nothing is retried in `close`, so
a half-written batch is never written again after itself; the next ``--resume``
truncates it away. ``.lock`` holds an exclusive `fcntl.flock` while a process
writes the directory (`DirectoryLock`); the manifest keeps a spare file of its size
so that its last update still fits on a full disk.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import time
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Final, Self

from solaredge_async.fleet import ROW_FIELDS, flat_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from solaredge_async.fleet import ItemSucceeded, Row

__all__ = [
    "ERRORS",
    "FORMATS",
    "JOURNAL",
    "MANIFEST",
    "DirectoryLock",
    "OutputError",
    "OutputStore",
    "read_manifest",
    "write_manifest",
]

MANIFEST: Final = "manifest.json"
LOCK: Final = ".lock"
_SPARE: Final = MANIFEST + ".tmp"
_SPARE_SLACK: Final = 64 * 1024
JOURNAL: Final = "journal.tsv"
ERRORS: Final = "errors.jsonl"
FORMATS: Final = ("jsonl", "csv", "parquet")
_DATA: Final = {"jsonl": "records.jsonl", "csv": "records.csv", "parquet": "records"}

# Commit a batch when it holds this much, or when `OutputStore.commit_due` says the last
# commit is `COMMIT_SECONDS` (10 s) old: the sweep checks it after each result and on a
# timer while no result arrives (`cli._sweep.results_or_ticks`).
_BATCH_BYTES: Final = 1 << 20
_BATCH_ITEMS: Final = 500
_PARQUET_ROWS: Final = 250_000


class OutputError(Exception):
    """The output directory cannot be used (unwritable, foreign content, damaged, in use)."""


def describe_os_error(exc: OSError) -> str:
    """A one-line reason for a failed write, naming a full disk as such."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full (free some space, then run again with --resume)"
    return str(exc.strerror or exc)


class DirectoryLock:
    """An exclusive lock on an output directory (``DIR/.lock``, `fcntl.flock`).

    Held for the whole command, so two processes never write one directory; the
    kernel drops it when the process dies (kill -9 included). Where ``fcntl`` is
    missing (Windows) it does nothing.

    Raises:
        OutputError: Another process holds the lock, or the lock file cannot be made.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK
        self._fd: int | None = None

    def __enter__(self) -> Self:
        """Take the lock, or raise `OutputError` at once (no waiting)."""
        try:
            import fcntl  # noqa: PLC0415 - POSIX only
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock {self.path}: {describe_os_error(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise OutputError(
                f"{self.path.parent} is in use by another solaredge-async process{who}; "
                "wait for it to finish or choose another directory"
            ) from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Release the lock (closing the descriptor drops it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _row_encoder() -> Callable[[Row], bytes]:
    try:
        import orjson  # noqa: PLC0415 - optional speed-up
    except ImportError:  # pragma: no cover - orjson is in the cli extra

        def encode(row: Row) -> bytes:
            return json.dumps(dict(zip(ROW_FIELDS, row, strict=True))).encode() + b"\n"

        return encode

    dumps = orjson.dumps
    option = orjson.OPT_APPEND_NEWLINE

    def encode_fast(row: Row) -> bytes:
        return dumps(dict(zip(ROW_FIELDS, row, strict=True)), option=option)

    return encode_fast


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically (a temporary file, then a rename).

    The temporary file is the spare left by the previous write, overwritten in
    place, so the update that marks a run failed or interrupted needs no new disk
    space; a new spare, larger than the manifest, is then set aside for the next one.

    Raises:
        OutputError: The manifest cannot be written.
    """
    target = directory / MANIFEST
    spare = directory / _SPARE
    data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
    try:
        fd = os.open(spare, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        spare.replace(target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {describe_os_error(exc)}") from None
    with contextlib.suppress(OSError):  # best effort: a full disk has no room for it
        fd = os.open(spare, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, b" " * (2 * len(data) + _SPARE_SLACK))
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        offset += os.pwrite(fd, view[offset:], offset)


#: The manifest's top-level fields a resume reads, with their JSON types.
_MANIFEST_FIELDS: Final = {
    "sweep": dict,
    "output": dict,
    "plan": dict,
    "runs": list,
    "complete": bool,
}


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read ``manifest.json`` and check its shape (the sweep options are checked on use).

    Raises:
        OutputError: Missing, not JSON, or not a manifest of this tool; a field of the
            wrong type (``runs`` not a list of objects, ``complete`` not a boolean...).
    """
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise OutputError(f"{directory} holds no sweep to resume (no {MANIFEST})") from None
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {describe_os_error(exc)}") from None
    except (ValueError, RecursionError) as exc:
        raise OutputError(f"{path} is damaged (not JSON: {str(exc)[:80]})") from None
    if not isinstance(data, dict) or data.get("format_version") != 1:
        raise OutputError(f"{path} is not a manifest of solaredge-async sweep")
    for name, kind in _MANIFEST_FIELDS.items():
        value = data.get(name)
        if not isinstance(value, kind):
            found = type(value).__name__ if name in data else "missing"
            wanted = "an object" if kind is dict else f"a {kind.__name__}"
            raise OutputError(f"{path} is damaged: {name!r} is {found}, expected {wanted}")
    if not all(isinstance(run, dict) for run in data["runs"]):
        raise OutputError(f"{path} is damaged: 'runs' holds something other than objects")
    return data


#: The row fields written to Parquet as ``timestamp[us, tz=UTC]``.
_INSTANTS: Final = ("period_start", "period_end")


def _instant(text: str) -> datetime:
    """An ISO 8601 stamp with its offset, as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


class OutputStore:
    """Appends the flat rows of finished items, crash-safely (see the module docstring).

    Args:
        directory: The output directory (exists).
        fmt: ``jsonl``, ``csv`` or ``parquet``.
        resume: Continue the output already there (else it must be fresh).
        include_null: Also write the buckets that hold no value (``value`` null); by
            default they are left out (a bucket without data is not 0).

    Raises:
        OutputError: The files cannot be written, or the journal and the data disagree.
        ImportError: ``parquet`` without pyarrow installed.
    """

    def __init__(
        self, directory: Path, fmt: str, *, resume: bool, include_null: bool = False
    ) -> None:
        if fmt not in FORMATS:  # pragma: no cover - argparse limits the choices
            raise OutputError(f"unknown format {fmt!r}")
        self.directory = directory
        self.fmt = fmt
        self.include_null = include_null
        self.data_path = directory / _DATA[fmt]
        self.journal_path = directory / JOURNAL
        self.done: set[str] = set()
        self.rows_written = 0
        self.rows_committed = 0
        self._pending_rows = 0
        self._broken: OutputError | None = None
        self._closed = False
        self._last_commit = time.monotonic()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_ids: list[str] = []
        self._columns: list[list[object]] = [[] for _ in ROW_FIELDS]
        self._part = 0
        self._encode = _row_encoder()
        self._pq: Any = None
        self._pa: Any = None
        if fmt == "parquet":
            import pyarrow as pa  # noqa: PLC0415 - optional dependency
            import pyarrow.parquet as pq  # noqa: PLC0415

            self._pa, self._pq = pa, pq
        try:
            marker = self._recover() if resume else None
            self._open(marker)
        except OSError as exc:
            raise OutputError(f"cannot write to {directory}: {exc.strerror or exc}") from None

    # -- opening and recovery ---------------------------------------------------------

    def _recover(self) -> int | None:
        """Read the journal up to its last commit line; return that commit's marker."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            raw = b""
        marker: int | None = None
        pending: list[str] = []
        good = 0
        offset = 0
        for line in raw.splitlines(keepends=True):
            offset += len(line)
            if not line.endswith(b"\n"):
                break  # torn by a crash: its batch never committed
            tag, sep, value = line[:-1].decode("utf-8", "replace").partition("\t")
            if tag == "i" and sep:
                pending.append(value)
            elif tag == "c" and value.isdigit():
                marker = int(value)
                self.done.update(pending)
                pending.clear()
                good = offset
            else:
                raise OutputError(f"{self.journal_path} is damaged (line {line[:60]!r})")
        if good != len(raw):
            with self.journal_path.open("r+b") as f:
                f.truncate(good)
        return marker

    def _open(self, marker: int | None) -> None:
        self._journal: IO[bytes] = self.journal_path.open("ab")
        if self.fmt == "parquet":
            self.data_path.mkdir(exist_ok=True)
            self._part = marker or 0
            for part in self.data_path.iterdir():
                stem = part.name.split(".", 1)[0].removeprefix("part-")
                if part.suffix == ".tmp" or (stem.isdigit() and int(stem) > self._part):
                    part.unlink()
            return
        size = self.data_path.stat().st_size if self.data_path.exists() else 0
        if marker is None:
            marker = 0
        elif size < marker:
            raise OutputError(
                f"{self.data_path} is shorter ({size} bytes) than its journal says "
                f"({marker} bytes): it was changed outside this tool"
            )
        self._data: IO[bytes] = self.data_path.open("r+b" if size else "wb")
        self._data.truncate(marker)
        self._data.seek(marker)
        if marker == 0 and self.fmt == "csv":
            self._data.write(",".join(ROW_FIELDS).encode() + b"\n")
            self._data.flush()

    # -- writing ----------------------------------------------------------------------

    def add(self, result: ItemSucceeded) -> None:
        """Queue the rows of a finished item; committed with the next batch."""
        rows = list(flat_rows(result, include_null=self.include_null))
        if self.fmt == "jsonl":
            self._add_bytes(b"".join(map(self._encode, rows)))
        elif self.fmt == "csv":
            self._add_bytes(_csv_bytes(rows))
        else:
            for row in rows:
                for column, value in zip(self._columns, row, strict=True):
                    column.append(value)
        self.rows_written += len(rows)
        self._pending_rows += len(rows)
        self._pending_ids.append(result.item.id)

    def _add_bytes(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)

    def batch_full(self) -> bool:
        """Whether enough is queued to commit now."""
        if self.fmt == "parquet":
            return len(self._columns[0]) >= _PARQUET_ROWS
        return self._pending_bytes >= _BATCH_BYTES or len(self._pending_ids) >= _BATCH_ITEMS

    def commit_due(self, seconds: float) -> bool:
        """Whether something is queued and the last commit is ``seconds`` old or more."""
        return bool(self._pending_ids) and time.monotonic() - self._last_commit >= seconds

    def commit(self) -> None:
        """Write the queued rows, then journal their items (in that order).

        Raises:
            OutputError: A write failed (e.g. a full disk). The store is then broken:
                every later `commit` raises the same error and `close` writes nothing,
                so the half-written batch is never written a second time (the next
                resume truncates it away and fetches its items again).
        """
        if self._broken is not None:
            raise self._broken
        self._last_commit = time.monotonic()
        if not self._pending_ids:
            return
        try:
            self._commit()
        except OSError as exc:
            self._broken = OutputError(
                f"cannot write to {self.directory}: {describe_os_error(exc)}"
            )
            raise self._broken from None

    def _commit(self) -> None:
        if self.fmt == "parquet":
            marker = self._write_part()
        else:
            self._data.write(b"".join(self._pending))
            self._data.flush()
            marker = self._data.tell()
            self._pending.clear()
            self._pending_bytes = 0
        lines = [f"i\t{item_id}\n" for item_id in self._pending_ids]
        lines.append(f"c\t{marker}\n")
        self._journal.write("".join(lines).encode("utf-8"))
        self._journal.flush()
        self.done.update(self._pending_ids)
        self._pending_ids.clear()
        self.rows_committed += self._pending_rows
        self._pending_rows = 0

    def _write_part(self) -> int:
        pa, pq = self._pa, self._pq
        schema = pa.schema(
            [
                ("site_id", pa.int64()),
                ("device_serial", pa.string()),
                ("source", pa.string()),
                ("metric", pa.string()),
                ("resolution", pa.string()),
                ("period_start", pa.timestamp("us", tz="UTC")),
                ("period_end", pa.timestamp("us", tz="UTC")),
                ("value", pa.float64()),
                ("unit", pa.string()),
                ("details", pa.string()),
            ]
        )
        columns = dict(zip(ROW_FIELDS, self._columns, strict=True))
        for name in _INSTANTS:
            # Real instants, not text: Parquet statistics and time filters then work.
            columns[name] = [None if v is None else _instant(str(v)) for v in columns[name]]
        table = pa.table(columns, schema=schema)
        self._part += 1
        final = self.data_path / f"part-{self._part:06d}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(final)
        self._columns = [[] for _ in ROW_FIELDS]
        return self._part

    def close(self) -> None:
        """Commit what is queued (unless a write failed) and close the files; idempotent.

        Raises:
            OutputError: The last commit failed (as `commit`).
        """
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        finally:
            with contextlib.suppress(OSError):
                self._journal.close()
            if self.fmt != "parquet":
                with contextlib.suppress(OSError):
                    self._data.close()

    @property
    def data_name(self) -> str:
        """The data file (or folder) name, relative to the output directory."""
        return self.data_path.name


def _csv_bytes(rows: Iterable[Row]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def append_errors(directory: Path, lines: Iterable[dict[str, object]]) -> None:
    """Append failed / not-attempted items to ``errors.jsonl``."""
    with (directory / ERRORS).open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(line, sort_keys=True) + "\n" for line in lines)


def check_writable(directory: Path) -> None:
    """Create ``directory`` if needed and prove a file can be written in it.

    Raises:
        OutputError: It cannot be created or written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():  # pragma: no cover - mkdir would have failed
        raise OutputError(f"{directory} is not a directory")
