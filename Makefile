.PHONY: setup test run node lint bench deb

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

run:
	bash scripts/run.sh

node: setup
	.venv/bin/hostapp node

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && bash scripts/check-qt-imports.sh

bench: setup
	.venv/bin/python -m bench
