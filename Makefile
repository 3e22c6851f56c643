.PHONY: setup test test-package run node lint bench deb soak windows test-windows

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

# The journey tier (tests/journeys) for 60 minutes, printing RSS and CPU over time (scripts/soak.sh).
soak:
	bash scripts/soak.sh

run:
	bash scripts/run.sh

node: setup
	.venv/bin/hostapp node

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && bash scripts/check-qt-imports.sh

bench: setup
	.venv/bin/python -m bench

deb: setup
	bash scripts/build-deb.sh

# The .deb built and installed into a clean Debian container; slow (PyInstaller), so not in `make test`.
test-package: deb
	dbus-run-session -- bash scripts/with-keyring.sh .venv/bin/pytest tests/integration/installers

# The Windows installer, built on Linux under Wine from registry packages (scripts/build-windows.sh):
# dist/windows/hostapp-<version>-setup.exe. Needs wine, wine64, gcc-mingw-w64-x86-64-win32, npm.
windows: setup
	bash scripts/build-windows.sh

# The Windows build's programs and Windows code paths in a fresh Wine prefix (tests/windows).
test-windows: setup
	bash scripts/test-windows.sh
