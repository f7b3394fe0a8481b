# make run: set up and start the platform. make test: set up and run every test.
# make run, the tests (tests/instance.py) and the benchmarks turn on the test numbers 12300/12399.
.PHONY: setup run test unit integration lint bench clean-pbx docker docker-up docker-down

setup:
	@bash scripts/setup.sh

run: setup
	HOTLINE_DEV_LINES=1 .venv/bin/hotline serve --with-pbx --demo-data

# Test files run in parallel, each worker on its own PBX instance (tests/instance.py): the
# integration tests mostly wait on real calls. TEST_WORKERS=1 runs them one after another.
TEST_WORKERS ?= 2
PARALLEL = -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: setup lint
	.venv/bin/pytest -q $(PARALLEL)

unit: setup
	.venv/bin/pytest -q tests/unit

integration: setup
	.venv/bin/pytest -q $(PARALLEL) tests/integration

lint: setup
	.venv/bin/ruff check app tests bench
	.venv/bin/mypy

bench: setup
	.venv/bin/python bench/concurrent_calls.py
	.venv/bin/python bench/api_lookup.py
	.venv/bin/python bench/ivr_latency.py
	.venv/bin/python bench/asr_live.py
	.venv/bin/python bench/acd_load.py
	.venv/bin/python bench/qa_analytics.py
	.venv/bin/python bench/recording_overhead.py
	.venv/bin/python bench/soak.py
	.venv/bin/python bench/crash_recovery.py
	.venv/bin/python bench/wallboard.py
	.venv/bin/python bench/ivr_capacity.py
	.venv/bin/python bench/db_write_lock.py

clean-pbx:
	-.venv/bin/hotline pbx stop

# The production node (docker/): images built from Debian's mirror and PyPI (no registry),
# then PostgreSQL, Asterisk and `hotline serve` with docker-compose on the host network.
docker:
	@bash docker/build.sh

docker-up: docker
	@bash docker/node.sh up

docker-down:
	@bash docker/node.sh down
