"""A redacted diagnostics bundle: the logs folder, the doctor's report and the settings, zipped.

Users attach it to a bug report, so nothing goes in unredacted: every file — logs, `doctor.json`,
`settings.json` — passes through `hostapp.logs.redactor.redact` (the wallet's registered secrets and
every secret-shaped string) on its way into the zip. The zip is written next to its destination
and renamed into place, so a failed export never leaves half a bundle under the chosen name.
Qt-free: the GUI's Diagnostics page and any CLI call the same function.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hostapp import __version__
from hostapp.config.paths import AppPaths
from hostapp.logs import redactor

MAX_FILE_BYTES = 16 * 1024 * 1024  # per log file: the newest part is kept (rotation caps them anyway)


@dataclass(frozen=True)
class Bundle:
    path: Path
    files: list[str]  # names inside the zip


def _read_tail(path: Path) -> tuple[str, bool]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > MAX_FILE_BYTES:
            handle.seek(size - MAX_FILE_BYTES)
        data = handle.read(MAX_FILE_BYTES)
    return data.decode("utf-8", errors="replace"), size > MAX_FILE_BYTES


def export_bundle(
    paths: AppPaths,
    destination: Path,
    doctor_report: Callable[[], Mapping[str, Any]],
    redact: Callable[[str], str] = redactor.redact,
) -> Bundle:
    """Writes the zip to `destination`; OSError (one line) if it cannot. `doctor_report` returns the
    doctor's JSON (hostapp.health.doctor.run_checks(...).to_json()); a failing doctor is recorded, not fatal."""
    destination = destination.expanduser()
    if destination.is_dir():
        raise OSError(f"{destination} is a folder: choose a file name ending in .zip")
    entries: dict[str, str] = {}
    truncated: list[str] = []
    if paths.logs.is_dir():
        for file in sorted(p for p in paths.logs.rglob("*") if p.is_file()):
            name = "logs/" + file.relative_to(paths.logs).as_posix()
            try:
                text, cut = _read_tail(file)
            except OSError as exc:
                entries[name + ".unreadable.txt"] = f"could not read {file.name}: {exc.strerror}"
                continue
            entries[name] = text
            if cut:
                truncated.append(name)
    try:
        doctor: Any = dict(doctor_report())
    except Exception as exc:  # the bundle is most wanted exactly when things are broken
        doctor = {"error": f"the doctor could not run: {exc}"}
    entries["doctor.json"] = json.dumps(doctor, indent=2, default=str)
    if paths.settings_file.is_file():
        entries["settings.json"] = paths.settings_file.read_text(encoding="utf-8", errors="replace")
    entries["manifest.json"] = json.dumps(
        {
            "hostapp": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "truncated_to_newest_bytes": {name: MAX_FILE_BYTES for name in truncated},
            "redacted": True,
        },
        indent=2,
    )

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for name, text in entries.items():
                bundle.writestr(name, redact(text))
        os.replace(partial, destination)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    return Bundle(destination, list(entries))
