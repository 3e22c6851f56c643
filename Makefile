.PHONY: setup test test-package run node lint bench deb soak

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
