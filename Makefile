# The two commands a newcomer needs: `make run` and `make test`.
CONFIG ?= deploy/demo.toml
# the suite runs on this many workers, a test file each at a time (many tests wait on real-time video)
TEST_WORKERS ?= 2

.PHONY: setup run test bench

setup:
	@scripts/setup.sh

run: setup
	@# simulated cameras: their loops are rendered first, all cores at once (cached for the next start)
	@if grep -q '^\[plugins\.traffic_sim\]' $(CONFIG); then .venv/bin/bconnect sim-render --config $(CONFIG); fi
	.venv/bin/bconnect serve --config $(CONFIG)

test: setup
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	.venv/bin/python bench/mux.py --cameras 8 --viewers 4 --seconds 10
	.venv/bin/python bench/ttff.py
	.venv/bin/python bench/transcode.py
	.venv/bin/python bench/detector.py
	.venv/bin/python bench/recovery.py
