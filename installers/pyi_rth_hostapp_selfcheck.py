"""PyInstaller runtime hook: with HOSTAPP_BUNDLE_SELFCHECK=1 the frozen bundle checks itself and exits.

A frozen bundle fails only at run time when the analysis missed a module that is imported by
name (keyring backends, uvicorn loops, APScheduler triggers, Qt plugins) or a data file (BIP39
word lists, icons). This imports and uses each of them inside the bundle, prints one JSON object
{"checks": {name: "ok" | "error: ..."}, "ok": bool} and exits 0 only when all pass. The
installer tests run it in a clean Debian container; without the variable it costs one lookup.
"""

import os

if os.environ.get("HOSTAPP_BUNDLE_SELFCHECK") == "1":
    import json
    import sys
    from collections.abc import Callable
    from pathlib import Path

    resources = Path(getattr(sys, "_MEIPASS", ".")) / "resources"

    def _metadata() -> str:
        from importlib.metadata import version

        return version("hostapp")

    def _commands() -> str:
        import importlib
        import importlib.util

        from hostapp.cli import COMMAND_MODULES, build_parser

        build_parser()
        present = [n for n in COMMAND_MODULES if importlib.util.find_spec(f"hostapp.commands.{n}") is not None]
        for name in present:
            importlib.import_module(f"hostapp.commands.{name}")
        return ", ".join(present)

    def _keyring() -> str:
        from keyring.backend import KeyringBackend, get_all_keyring

        get_all_keyring()  # loads the backends named by the entry points
        # Every backend class that imported, viable here or not (no D-Bus session in a container).
        names = {cls.__module__ for cls in KeyringBackend._classes}  # type: ignore[attr-defined]
        for needed in ("keyring.backends.SecretService", "keyring.backends.kwallet"):
            assert needed in names, f"{needed} not loaded (have {sorted(names)})"
        return ", ".join(sorted(names))

    def _secretstorage() -> str:
        import jeepney.io.blocking
        import secretstorage

        return f"{secretstorage.__name__}, {jeepney.io.blocking.__name__}"

    def _uvicorn() -> str:
        from uvicorn import config
        from uvicorn.importer import import_from_string

        # The names uvicorn resolves at run time for the settings hostapp's servers use.
        specs = [config.HTTP_PROTOCOLS["auto"], config.HTTP_PROTOCOLS["h11"], config.LIFESPAN["on"]]
        loops = getattr(config, "LOOP_FACTORIES", None) or getattr(config, "LOOP_SETUPS", {})
        specs += [loops["auto"], loops["asyncio"]]
        for spec in specs:
            import_from_string(spec)
        return ", ".join(specs)

    def _apscheduler() -> str:
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler()
        for trigger, kwargs in (("interval", {"seconds": 60}), ("cron", {"hour": 3}), ("date", {})):
            scheduler.add_job(print, trigger, **kwargs)  # resolves the trigger alias via entry points
        return "interval, cron, date"

    def _wallet_libs() -> str:
        from mnemonic import Mnemonic
        from solders.keypair import Keypair

        words = Mnemonic("english").generate(128).split()
        assert len(words) == 12
        return f"bip39 words ok, solders pubkey {str(Keypair().pubkey())[:4]}…"

    def _pydantic() -> str:
        import pydantic

        model = pydantic.create_model("Probe", amount=(int, ...))
        return f"pydantic {pydantic.VERSION}: {model(amount='7').amount}"  # type: ignore[attr-defined]

    def _tls() -> str:
        import ssl

        import certifi

        ssl.create_default_context(cafile=certifi.where())
        return "certifi bundle loads"

    def _resources() -> str:
        needed = ["icons/io.hostapp.HostApp.svg"] + [
            f"icons/tray/{s}.svg" for s in ("working", "waiting", "paused", "offline", "error")
        ]
        missing = [n for n in needed if not (resources / n).is_file()]
        assert not missing, f"missing {missing}"
        return str(resources)

    def _qt() -> str:
        import importlib.util

        if importlib.util.find_spec("PySide6") is None:
            return "not bundled (headless build)"
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtGui import QGuiApplication, QIcon, QImageReader  # noqa: TID251 (checks the bundle's Qt)

        app = QGuiApplication([])
        formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
        assert "svg" in formats, f"no SVG image plugin (have {sorted(formats)})"
        pixmap = QIcon(str(resources / "icons" / "tray" / "working.svg")).pixmap(22, 22)
        assert not pixmap.isNull(), "the SVG icon engine did not render a tray icon"
        name = app.platformName()
        app.quit()
        return f"platform {name}, svg icons render"

    checks: dict[str, Callable[[], str]] = {
        "metadata": _metadata,
        "commands": _commands,
        "keyring": _keyring,
        "secretstorage": _secretstorage,
        "uvicorn": _uvicorn,
        "apscheduler": _apscheduler,
        "wallet_libs": _wallet_libs,
        "pydantic": _pydantic,
        "tls": _tls,
        "resources": _resources,
        "qt": _qt,
    }
    results: dict[str, str] = {}
    for check_name, check in checks.items():
        try:
            results[check_name] = "ok: " + check()
        except BaseException as exc:  # a self-check reports every failure, it never stops at one
            results[check_name] = f"error: {type(exc).__name__}: {exc}"
    ok = all(r.startswith("ok") for r in results.values())
    print(json.dumps({"ok": ok, "checks": results}, indent=2))
    sys.stdout.flush()
    os._exit(0 if ok else 1)
