# The two commands a newcomer needs: `make run` and `make test`.
CONFIG ?= deploy/demo.toml

.PHONY: setup run test bench

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/bconnect serve --config $(CONFIG)

test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/mux.py --cameras 8 --viewers 4 --seconds 10
	.venv/bin/python bench/ttff.py
	.venv/bin/python bench/transcode.py
	.venv/bin/python bench/detector.py
	.venv/bin/python bench/recovery.py
