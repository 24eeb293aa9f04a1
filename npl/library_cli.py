"""`npl library ...`: look after the module library (filling/library.py).

    npl library list           every entry (id, function, description, origin)
    npl library show ID        one entry in full: code, examples, origin, provenance
    npl library remove ID      delete an entry (tampered ones too)
    npl library export FILE    write every valid entry to a JSON file
    npl library import FILE    add the entries of such a file, unverified

ID is an entry id or a prefix of one (at least 4 hexadecimal digits).
Entries are signed with a key local to the user (library.key beside the
database); one whose hash or signature does not verify (edited behind npl's
back, or from a database without its key) is never used for filling; `list`
reports it and `remove` deletes it. Imported entries are unverified until
they pass the checks of a hole that uses them. An entry's recorded source
(the model that wrote it) is its author's claim; its origin (verified here,
or imported from FILE) is what this library knows. The library is the folder
or file named by NPL_LIBRARY, else the user data folder.

Exit status: 0 success; 1 an unknown, ambiguous or tampered id, a bad or
unreadable export file, entries refused on import, or an unusable library;
2 a malformed command line (click's usage errors, an id that is not hex).
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table


def _console(err: bool = False) -> Console:
    return Console(stderr=err, highlight=False, soft_wrap=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"npl: error: {message}", err=True)
    sys.exit(code)


def _warn(message: str) -> None:
    click.echo(f"npl: warning: {message}", err=True)


def _open():
    """The module library, or exit 1 saying why it cannot be had."""
    if os.environ.get("NPL_LIBRARY", "").strip() == "off":
        _fail("the module library is turned off (NPL_LIBRARY=off); unset NPL_LIBRARY "
              "or name a folder")
    from npl.filling.library import Library, LibraryError
    try:
        return Library()
    except LibraryError as err:
        _fail(str(err))


def _check_id(entry_id: str) -> str:
    import re
    entry_id = entry_id.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{4,64}", entry_id):
        raise click.BadParameter(f"{entry_id!r} is not a library entry id (at least 4 "
                                 "hexadecimal digits, as `npl library list` shows)",
                                 param_hint="ID")
    return entry_id


def _report_tampered(ids: list[str]) -> None:
    from npl.filling.library import TAMPERED
    for entry_id in ids:
        _warn(f"library entry {entry_id} {TAMPERED}; it is never used (delete it with "
              f"`npl library remove {entry_id}`)")


def _origin(p) -> str:
    """The provenance in a few words: `openai/gpt-4o, 2 attempts`."""
    parts = [p.source if not p.model or p.model in p.source else f"{p.source} ({p.model})"]
    if p.attempts > 1:
        parts.append(f"{p.attempts} attempts")
    if p.library_entry:
        parts.append(f"via {p.library_entry}")
    return ", ".join(parts)


def _function_name(entry) -> str:
    import re
    m = re.search(r"^def (\w+)\(", entry.fill, re.M)
    return m.group(1) if m else "?"


def _header(entry) -> str:
    params = ", ".join(f"{n}: {t}" for n, t in zip(entry.param_names, entry.param_types))
    return f"{_function_name(entry)}({params}) -> {entry.return_type}"


@click.group(name="library")
def library():
    """The module library: verified fills kept for reuse by later holes."""


@library.command(name="list")
def list_cmd():
    """List every entry: id, function, description, source."""
    lib = _open()
    with lib:
        entries = lib.list()
        tampered = lib.tampered()
    console = _console()
    if not entries:
        console.print(f"the module library {escape(str(lib.path))} is empty"
                      + (" (apart from the tampered entries below)" if tampered else ""))
    else:
        table = Table(title=f"module library {escape(str(lib.path))}", title_justify="left")
        table.add_column("id", no_wrap=True)
        table.add_column("function", overflow="fold", ratio=3, min_width=14)
        table.add_column("description", overflow="fold", ratio=4, min_width=16)
        table.add_column("origin", overflow="fold", ratio=3, min_width=10)
        for e in entries:
            table.add_row(e.id, escape(_header(e)), escape(e.description),
                          escape(f"{e.standing}; by {_origin(e.provenance)}"))
        console.print(table)
        console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
                      + (f", {len(tampered)} tampered" if tampered else ""))
    _report_tampered(tampered)


@library.command()
@click.argument("entry_id", metavar="ID")
def show(entry_id):
    """Show one entry in full: its code, checks and provenance."""
    from npl.filling.library import LibraryError
    entry_id = _check_id(entry_id)
    lib = _open()
    with lib:
        try:
            entry = lib.get(entry_id)
        except LibraryError as err:
            _fail(str(err))
    if entry is None:
        _fail(f"no library entry with id {entry_id!r} (see `npl library list`)")
    console = _console()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    p = entry.provenance
    rows = [("id", entry.id), ("hash", entry.hash), ("kind", entry.kind),
            ("function", _header(entry)), ("signature", entry.type_signature),
            ("description", entry.description), ("origin", entry.standing),
            ("source", _origin(p) + " (as recorded by whoever added it)"),
            ("cost", (f"{p.attempts} attempt(s), {p.prompt_tokens}+{p.completion_tokens} tokens, "
                      if p.prompt_tokens or p.completion_tokens else "") + f"{p.seconds:.1f} s"),
            ("checks", f"{len(entry.examples)} example(s), {len(entry.properties)} property(ies)"),
            ("added", entry.created)]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)
    for title, checks in (("examples", entry.examples), ("properties", entry.properties)):
        if checks:
            console.print(f"[bold]{title}[/bold]")
            for text in checks:
                console.print("  " + escape(text.strip()))
    console.print("[bold]fill[/bold]")
    console.print(Syntax(entry.fill.rstrip("\n"), "python", theme="ansi_dark", line_numbers=False,
                         padding=(0, 2)))


@library.command()
@click.argument("entry_id", metavar="ID")
def remove(entry_id):
    """Delete the entry ID (tampered entries too)."""
    from npl.filling.library import LibraryError
    entry_id = _check_id(entry_id)
    lib = _open()
    with lib:
        try:
            tampered = [t for t in lib.tampered() if t.startswith(entry_id[:len(t)])]
            try:
                entry = lib.get(entry_id)
            except LibraryError:
                entry = None            # tampered: removed all the same
            removed = lib.remove(entry_id)
        except LibraryError as err:
            _fail(str(err))
    if not removed:
        _fail(f"no library entry with id {entry_id!r} (see `npl library list`)")
    if entry is not None:
        click.echo(f"removed library entry {entry.id} ({_header(entry)}: {entry.description})")
    else:
        click.echo(f"removed tampered library entry {tampered[0] if len(tampered) == 1 else entry_id}")


@library.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def export_cmd(file):
    """Write every valid entry to FILE (JSON), for `npl library import`."""
    from npl.filling.library import LibraryError
    lib = _open()
    with lib:
        try:
            n = lib.export(file)
            tampered = lib.tampered()
        except (LibraryError, OSError) as err:
            _fail(f"cannot export the module library to {file}: {err}")
    click.echo(f"exported {n} entr{'y' if n == 1 else 'ies'} to {file}")
    if tampered:
        _report_tampered(tampered)
        _warn(f"{len(tampered)} tampered entr{'y was' if len(tampered) == 1 else 'ies were'} "
              "left out of the export")


@library.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
def import_cmd(file):
    """Add the entries of FILE (made by `npl library export`), unverified: each
    is used only for a hole whose checks it passes, then marked verified.
    Entries whose hash does not match their content are refused."""
    from npl.filling.library import LibraryError
    lib = _open()
    with lib:
        try:
            report = lib.import_(file)
        except LibraryError as err:
            _fail(str(err))
    click.echo(f"imported {report.added} entr{'y' if report.added == 1 else 'ies'} from {file}"
               + (f" ({report.duplicates} already present)" if report.duplicates else ""))
    if report.added:
        click.echo("imported entries are unverified: one is used only for a hole whose examples "
                   "or properties it passes, and is then marked verified")
    if report.skipped_tampered:
        for entry_id in report.skipped_tampered:
            click.echo(f"npl: error: {file}: entry {entry_id} refused: its hash does not match its "
                       "content (edited after export) or it is malformed", err=True)
        sys.exit(1)
