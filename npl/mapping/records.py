"""The data a map job reads and writes (SPEC section 11; docs/map.md).

In (the parent reads, a worker converts):
    open_input(path, fmt)     a JSON Lines or CSV file -> InputFile, whose
                              `records()` gives (line number, raw record)
                              in order: a JSON Lines line as bytes, a CSV
                              row as its cells; blank lines are no records
    arguments(raw, shape)     a raw record -> (FUNC's arguments as NPL values,
                              the record's "id" or None), or RecordError
                              saying what is wrong, with the line number
Out:
    output_line(...)          one `{"index": N, "id": ..., "result": VALUE}`
                              or `{"index": N, "id": ..., "error": MESSAGE}`
                              line of JSON
    scan_output(path)         an output file to resume -> Resume: the
                              indices it holds, how many are errors, and
                              where its last whole line ends (a torn last
                              line, from a killed job, is cut off)
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from npl.runtime.convert import HOST, JSON, ConversionError, convert, from_text

from .program import MapRequestError

FORMATS = ("jsonl", "csv")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
PYTHON = "python"                      # records handed over by npl.map, not read from a file


class RecordError(Exception):
    """A record that cannot be called: not JSON, the wrong shape, a value
    of the wrong type; `ident` is its "id" when it has one. Becomes the
    record's error line; never leaves a worker."""

    def __init__(self, message: str, ident: Any = None):
        super().__init__(message)
        self.ident = ident


# ---------------------------------------------------------------- input

@dataclass
class InputFile:
    """An input file and its format; a CSV file's header is read at once."""
    path: str
    format: str
    header: Optional[list[str]] = None

    def records(self) -> Iterator[tuple[int, Any]]:
        """(line number, raw record) in order."""
        if self.format == "csv":
            yield from self._csv_rows(skip_header=True)
            return
        with open(self.path, "rb") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    yield number, line

    def count(self) -> int:
        """How many records `records()` gives (a pass over the file)."""
        if self.format == "csv":
            return sum(1 for _ in self._csv_rows(skip_header=True))
        with open(self.path, "rb") as f:
            return sum(1 for line in f if line.strip())

    def _csv_rows(self, skip_header: bool) -> Iterator[tuple[int, list[str]]]:
        """(first line, cells) of each row; MapRequestError where the file
        stops being CSV text (not UTF-8, a NUL byte, a huge field)."""
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            last = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise MapRequestError(f"{self.path}:{last + 1}: cannot read the CSV file "
                                          f"further: {exc}") from None
                start, last = last + 1, reader.line_num
                if skip_header:
                    skip_header = False
                elif row:
                    yield start, row


def open_input(path: str, fmt: Optional[str] = None) -> InputFile:
    """The input file with its format: `fmt`, else from the extension
    (.jsonl, .ndjson, .csv). MapRequestError when it is missing, unreadable
    or of no known format, or a CSV header is empty or repeats a name."""
    if fmt is None:
        fmt = EXTENSIONS.get(os.path.splitext(path)[1].lower())
        if fmt is None:
            raise MapRequestError(f"cannot tell the format of {path} from its extension: name it "
                                  f"with --format {'|'.join(FORMATS)}")
    if not os.path.isfile(path):
        raise MapRequestError(f"no such input file: {path}" if not os.path.exists(path)
                              else f"the input {path} is not a file")
    if not os.access(path, os.R_OK):
        raise MapRequestError(f"cannot read the input {path}: permission denied")
    source = InputFile(path, fmt)
    if fmt == "csv":
        source.header = next((row for _, row in source._csv_rows(skip_header=False)), [])
        names = [h.strip() for h in source.header]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if source.header and repeated:
            raise MapRequestError(f"{path}:1: the CSV header names {', '.join(repeated)} twice")
        source.header = names
    return source


# ---------------------------------------------------------------- records -> arguments

@dataclass
class Shape:
    """What a worker needs to read records: the input's format (or PYTHON),
    a CSV header, FUNC's parameters and the program's struct table."""
    format: str
    params: list
    structs: dict = field(default_factory=dict)
    header: Optional[list[str]] = None


def arguments(raw: Any, line: int, shape: Shape) -> tuple[list, Any]:
    """(FUNC's arguments as NPL values, the record's "id" or None) of one
    raw record; RecordError saying where a record is wrong."""
    if shape.format == "csv":
        return _csv_arguments(raw, line, shape)
    if shape.format == PYTHON:
        return _python_arguments(raw, shape), None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RecordError(f"line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise RecordError(f"line {line}: not a JSON value ({detail})") from None
    if isinstance(data, dict):
        ident = data.get("id")
        values = [_field(data, name, line, ident) for name, _ in shape.params]
    elif isinstance(data, list):
        if len(data) != len(shape.params):
            raise RecordError(f"line {line}: an array of {len(data)} argument(s); the function "
                              f"takes {len(shape.params)}")
        values, ident = data, None
    else:
        raise RecordError(f"line {line}: expected an object of the function's parameters or an "
                          f"array of its arguments, found {json.dumps(data)[:60]}")
    return [_convert(v, t, name, line, shape, JSON, ident)
            for v, (name, t) in zip(values, shape.params)], ident


def raw_id(raw: Any, fmt: str, header: Optional[list[str]]) -> Any:
    """A raw record's "id" (None when it has none or does not parse), for
    the error line of a record no worker could run."""
    if fmt == "csv":
        cells = dict(zip(header or [], raw))
        return cells.get("id")
    if fmt == PYTHON:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data.get("id") if isinstance(data, dict) else None


def _field(data: dict, name: str, line: int, ident: Any) -> Any:
    if name not in data:
        raise RecordError(f"line {line}: no value for parameter '{name}'", ident)
    return data[name]


def _csv_arguments(row: list[str], line: int, shape: Shape) -> tuple[list, Any]:
    header = shape.header or []
    cells = dict(zip(header, row))
    ident = cells.get("id")
    if len(row) != len(header):
        raise RecordError(f"line {line}: the row has {len(row)} cell(s), the header {len(header)}",
                          ident)
    args = []
    for name, t in shape.params:
        if name not in cells:
            raise RecordError(f"line {line}: the CSV header has no column '{name}'", ident)
        try:
            args.append(from_text(cells[name], t, shape.structs, f"line {line}, argument '{name}'"))
        except ConversionError as err:
            raise RecordError(str(err), ident) from None
    return args, ident


def _python_arguments(item: Any, shape: Shape) -> list:
    """npl.map's records: for a function of one parameter, each item is its
    argument (as Python's map); otherwise a tuple or list of the arguments,
    or a dict by parameter name."""
    params = shape.params
    if len(params) == 1:
        return [_convert(item, params[0][1], params[0][0], None, shape, HOST)]
    if isinstance(item, dict):
        missing = [n for n, _ in params if n not in item]
        if missing:
            raise RecordError(f"no value for parameter(s) {', '.join(missing)}")
        values = [item[n] for n, _ in params]
    elif isinstance(item, (tuple, list)) and len(item) == len(params):
        values = list(item)
    else:
        raise RecordError(f"expected a tuple of {len(params)} arguments or a dict by parameter "
                          f"name, got {type(item).__name__}")
    return [_convert(v, t, n, None, shape, HOST) for v, (n, t) in zip(values, params)]


def _convert(value: Any, t, name: str, line: Optional[int], shape: Shape, form: str,
             ident: Any = None) -> Any:
    try:
        return convert(value, t, shape.structs, "", form)
    except ConversionError as err:
        where = f"line {line}, argument '{name}'" if line is not None else f"argument '{name}'"
        raise RecordError(str(err.within(where)), ident) from None


# ---------------------------------------------------------------- output

# The output's encoder, made once (json.dumps with options makes one per
# call). No check for cycles: to_json's data is a tree it has just built.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def output_line(index: int, ident: Any, *, result: Any = None, error: Optional[str] = None) -> str:
    """One output line (with its newline): the record's index, its "id"
    when it has one, and its result (JSON data) or error message."""
    line: dict[str, Any] = {"index": index}
    if ident is not None:
        line["id"] = ident
    if error is not None:
        line["error"] = error
    else:
        line["result"] = result
    return _encode(line) + "\n"


@dataclass
class Resume:
    """What an output file already holds: the record indices, how many of
    them are errors, and the byte length of its whole lines (what is kept)."""
    done: set[int] = field(default_factory=set)
    failed: int = 0
    keep_bytes: int = 0
    torn: bool = False


def scan_output(path: str) -> Resume:
    """The records an output file holds. A last line without its newline
    is torn (the job was killed while writing it): it is not counted, and
    `keep_bytes` ends before it. Any other line that is not an output line
    is MapRequestError: the file is not this command's output."""
    resume = Resume()
    if not os.path.exists(path):
        return resume
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                resume.torn = True
                break
            try:
                data = json.loads(line)
                index = data["index"]
                ok = isinstance(index, int) and ("result" in data or "error" in data)
            except (ValueError, TypeError, KeyError):
                ok = False
            if not ok:
                raise MapRequestError(f"{path}:{number}: not a line `npl map` writes; is this the "
                                      "output of another command?")
            if index in resume.done:
                raise MapRequestError(f"{path}:{number}: record {index} is there twice")
            resume.done.add(index)
            resume.failed += "error" in data
            resume.keep_bytes += len(line)
    return resume
