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
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from typing import IO, TYPE_CHECKING, Any, Final

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
    "OutputError",
    "OutputStore",
    "read_manifest",
    "write_manifest",
]

MANIFEST: Final = "manifest.json"
JOURNAL: Final = "journal.tsv"
ERRORS: Final = "errors.jsonl"
FORMATS: Final = ("jsonl", "csv", "parquet")
_DATA: Final = {"jsonl": "records.jsonl", "csv": "records.csv", "parquet": "records"}

# Commit a batch when it holds this much, or on `flush_due`.
_BATCH_BYTES: Final = 1 << 20
_BATCH_ITEMS: Final = 500
_PARQUET_ROWS: Final = 250_000


class OutputError(Exception):
    """The output directory cannot be used (unwritable, foreign content, damaged)."""


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
    """Write ``manifest.json`` atomically (a temporary file, then a rename)."""
    target = directory / MANIFEST
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read ``manifest.json``.

    Raises:
        OutputError: Missing or not a manifest of this tool.
    """
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{directory} holds no sweep to resume (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format_version") != 1:
        raise OutputError(f"{path} is not a manifest of solaredge-async sweep")
    return data


class OutputStore:
    """Appends the flat rows of finished items, crash-safely (see the module docstring).

    Args:
        directory: The output directory (exists).
        fmt: ``jsonl``, ``csv`` or ``parquet``.
        resume: Continue the output already there (else it must be fresh).

    Raises:
        OutputError: The files cannot be written, or the journal and the data disagree.
        ImportError: ``parquet`` without pyarrow installed.
    """

    def __init__(self, directory: Path, fmt: str, *, resume: bool) -> None:
        if fmt not in FORMATS:  # pragma: no cover - argparse limits the choices
            raise OutputError(f"unknown format {fmt!r}")
        self.directory = directory
        self.fmt = fmt
        self.data_path = directory / _DATA[fmt]
        self.journal_path = directory / JOURNAL
        self.done: set[str] = set()
        self.rows_written = 0
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
        rows = list(flat_rows(result))
        if self.fmt == "jsonl":
            self._add_bytes(b"".join(map(self._encode, rows)))
        elif self.fmt == "csv":
            self._add_bytes(_csv_bytes(rows))
        else:
            for row in rows:
                for column, value in zip(self._columns, row, strict=True):
                    column.append(value)
        self.rows_written += len(rows)
        self._pending_ids.append(result.item.id)

    def _add_bytes(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)

    def batch_full(self) -> bool:
        """Whether enough is queued to commit now."""
        if self.fmt == "parquet":
            return len(self._columns[0]) >= _PARQUET_ROWS
        return self._pending_bytes >= _BATCH_BYTES or len(self._pending_ids) >= _BATCH_ITEMS

    def commit(self) -> None:
        """Write the queued rows, then journal their items (in that order)."""
        if not self._pending_ids:
            return
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

    def _write_part(self) -> int:
        pa, pq = self._pa, self._pq
        schema = pa.schema(
            [
                ("site_id", pa.int64()),
                ("device_serial", pa.string()),
                ("source", pa.string()),
                ("metric", pa.string()),
                ("resolution", pa.string()),
                ("period_start", pa.string()),
                ("period_end", pa.string()),
                ("value", pa.float64()),
                ("unit", pa.string()),
                ("details", pa.string()),
            ]
        )
        table = pa.table(dict(zip(ROW_FIELDS, self._columns, strict=True)), schema=schema)
        self._part += 1
        final = self.data_path / f"part-{self._part:06d}.parquet"
        tmp = final.with_name(final.name + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(final)
        self._columns = [[] for _ in ROW_FIELDS]
        return self._part

    def close(self) -> None:
        """Commit what is queued and close the files."""
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
