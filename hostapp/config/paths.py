"""Where hostapp keeps its files: platformdirs, or one folder under $HOSTAPP_HOME (tests, portable use)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hostapp import APP_NAME

HOME_ENV = "HOSTAPP_HOME"


@dataclass(frozen=True)
class AppPaths:
    config: Path
    data: Path
    cache: Path
    logs: Path
    runtime: Path

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def database(self) -> Path:
        return self.data / "hostapp.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        """Per-job writable work/output folders (the only writable place a job container gets)."""
        return self.data / "jobs"

    @property
    def control_socket(self) -> Path:
        return self.runtime / "control.sock"

    def all_dirs(self) -> tuple[Path, ...]:
        return (self.config, self.data, self.cache, self.logs, self.runtime)

    def ensure(self) -> AppPaths:
        for directory in self.all_dirs():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def default_paths() -> AppPaths:
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(
            config=root / "config",
            data=root / "data",
            cache=root / "cache",
            logs=root / "logs",
            runtime=root / "run",
        )
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    # Without a private XDG_RUNTIME_DIR (a service, a container) platformdirs warns and guesses /tmp/runtime-UID;
    # a folder under our own cache is private and predictable instead.
    if os.name == "posix" and _private_dir(os.environ.get("XDG_RUNTIME_DIR")):
        runtime = Path(dirs.user_runtime_dir)
    else:
        runtime = Path(dirs.user_cache_dir) / "run"
    return AppPaths(
        config=Path(dirs.user_config_dir),
        data=Path(dirs.user_data_dir),
        cache=Path(dirs.user_cache_dir),
        logs=Path(dirs.user_log_dir),
        runtime=runtime,
    )


def _private_dir(path: str | None) -> bool:
    """An existing folder only its owner (us) can enter, as XDG_RUNTIME_DIR must be."""
    if not path:
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False
    return info.st_uid == os.getuid() and info.st_mode & 0o077 == 0
