# Two commands: `make run` and `make test`. Both create .venv from python3 on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint interop bench faults clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "casework needs Python 3.11 (found %s)" % sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) worker.py --seed directory.toml --api

# make test floods one case with 1,000 updates and 100 answers (tests/workflow/test_state_bounds.py, ~20 s)
# and runs the fault batches with 12 cases and 2 kills; make faults runs the flood at the full
# 10,000 and 1,000 (~3.5 min on 2 cores) and the batches with 200 cases and 6 kills. The tests start many
# Python processes (CLI, workers): they may keep bytecode (this machine sets PYTHONDONTWRITEBYTECODE;
# the worker never depends on it: it compiles its sandboxed modules into var/pycache itself).
# Three pytest processes, a test file each at a time (pytest-xdist --dist loadfile): the fault tests
# and the tests that start workers spend much of their time waiting (a killed worker's timeouts, a
# process starting), so the other files run meanwhile. Measured on 2 cores from a fresh clone with
# 1,252 tests (2026-12-07): two processes 550 s of pytest (make test 10 min 40 s), three 480 s
# (9 min 28 s). The 15 slowest are listed at the end, to see what to make cheaper next.
test: $(STAMP) lint
	bash scripts/ensure_chromium.sh
	PYTHONDONTWRITEBYTECODE= STATE_BOUND_UPDATES=1000 STATE_BOUND_COOPERATIONS=100 FAULT_CASES=12 FAULT_KILLS=2 \
		$(PY) -m pytest -q -n 3 --dist loadfile --durations=15

# The pure tests: no Temporal server, no worker, API or mail server, no database server; the rules,
# calendars, phrase books, templates and the code's own checks (layers, patches). Under 30 s on two
# processes, for the loop of a change; `make test` runs them too, with everything else.
FAST_TESTS := tests/unit

test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 $(FAST_TESTS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m scripts.missing_step  # mypy finds an Event the case machine has no step for
	$(VENV)/bin/lint-imports  # the layers and the pure support/ of [tool.importlinter] in pyproject.toml

interop: $(STAMP)  # casework behind Debian's Postfix, both ways (root; installs postfix if missing)
	$(PY) -m scripts.interop_postfix

bench: $(STAMP)
	$(PY) -m bench.calendar_bench
	$(PY) -m bench.lifecycle_bench --cases 100 --concurrency 100 --deliveries-process
	$(PY) -m bench.deadline_burst --cases 200
	$(PY) -m bench.intake_latency --rate 10 --seconds 10
	$(PY) -m bench.idle_cases --cases 500
	$(PY) -m bench.openings --runs 2 --cases 50
	$(PY) -m bench.case_memory --cases 50
	$(PY) -m bench.replay_rate --rounds 2

faults: $(STAMP)
	FAULT_CASES=200 FAULT_KILLS=6 FAULT_FUZZ_SCALE=5 $(PY) -m pytest -q -s tests/faults tests/system/test_api_fuzz.py \
		tests/workflow/test_state_bounds.py

clean:
	rm -rf $(VENV) var/*.db var/outbox.jsonl .pytest_cache .mypy_cache .ruff_cache
