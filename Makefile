# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard backend/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint format translations extract-messages browser prepare clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,scale]'
	touch $@

%.mo: %.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

translations: $(CATALOGUES)

prepare: $(VENV)/.installed translations

run: prepare
	HOST=$(HOST) PORT=$(PORT) $(PY) -m backend run

# The production start (the scale profile, docs/deploy.md): gunicorn with gevent-websocket's
# worker, the schema migrated once before. One worker per process and one process per port:
# Socket.IO's long-polling needs every request of a session at the process that holds it, which
# gunicorn's balancing between its own workers cannot promise (with -w 2, most polling sessions
# fail with "Invalid session"). So one process per core means SERVE_PROCESSES ports from PORT on,
# behind a sticky proxy (nginx ip_hash), joined by SOCKETIO_MESSAGE_QUEUE; without a message queue
# only one process, since the events of one would never reach the screens of another.
SERVE_PROCESSES ?= $(if $(SOCKETIO_MESSAGE_QUEUE),$(shell nproc),1)
# Connections per process, well above its sockets (measured: 2,000 displays per process).
SERVE_CONNECTIONS ?= 4000
GUNICORN_ARGS = --worker-class geventwebsocket.gunicorn.workers.GeventWebSocketWorker --workers 1 \
	--worker-connections $(SERVE_CONNECTIONS) --graceful-timeout 10 --no-control-socket
.PHONY: serve
serve: prepare
	@if [ -z "$$SOCKETIO_MESSAGE_QUEUE" ] && [ "$(SERVE_PROCESSES)" -gt 1 ]; then \
	  echo "SERVE_PROCESSES=$(SERVE_PROCESSES) needs SOCKETIO_MESSAGE_QUEUE (redis://…): without it the processes cannot share events" >&2; exit 2; fi
	$(PY) -m backend migrate
	@ulimit -n $$(( $(SERVE_CONNECTIONS) + 1024 )) 2>/dev/null || true; \
	export SOCKETIO_ASYNC_MODE=gevent; \
	if [ "$(SERVE_PROCESSES)" -eq 1 ]; then \
	  exec $(VENV)/bin/gunicorn $(GUNICORN_ARGS) --bind $(HOST):$(PORT) backend.wsgi:app; fi; \
	trap 'kill $$(jobs -p) 2>/dev/null; wait' INT TERM; \
	for i in $$(seq 0 $$(( $(SERVE_PROCESSES) - 1 ))); do \
	  $(VENV)/bin/gunicorn $(GUNICORN_ARGS) --bind $(HOST):$$(( $(PORT) + i )) backend.wsgi:app & \
	done; wait

# Debian's Chromium for the browser tests (installed once, when missing and we may).
browser:
	@bash scripts/ensure-chromium.sh

# The npm tools (axe-core for the browser tests' accessibility audit, ESLint), from the npm registry.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# The chart library the console's reports draw with, served from here (no CDN): Chart.js from the
# npm registry (package.json), copied without its source-map line; tests/test_pages.py checks it is
# the installed version's file.
.PHONY: vendor
vendor: node_modules/axe-core/axe.min.js
	sed '/^\/\/# sourceMappingURL=/d' node_modules/chart.js/dist/chart.umd.min.js > static/vendor/chart.umd.min.js
	cp node_modules/chart.js/LICENSE.md static/vendor/chart.js.LICENSE

# The browser JavaScript (static/js, native ES modules): ESLint, and node's test runner on tests/js.
.PHONY: lint-js test-js
lint-js: node_modules/axe-core/axe.min.js
	npx eslint static/js tests/js

test-js: node_modules/axe-core/axe.min.js
	node --test tests/js/

# Every test on both tiers: the embedded SQLite one (browser tests included), then the engine,
# API, socket, race and crash tests again on PostgreSQL + Redis (tests/conftest.py TIER), started
# here when the machine has them installed but not running (scripts/ensure-services.sh). Tests
# of pure code (marker `pure`: the policy, the estimate, the simulator) touch no database, so the
# scale tier does not run them twice.
.PHONY: services test-sqlite test-scale
services:
	@bash scripts/ensure-services.sh

test: prepare browser lint test-js node_modules/axe-core/axe.min.js services
	$(MAKE) --no-print-directory test-sqlite test-scale

test-sqlite: prepare node_modules/axe-core/axe.min.js
	HALLQUEUE_TEST_TIER=sqlite $(PY) -m pytest $(PYTEST_ARGS)

test-scale: prepare services
	HALLQUEUE_TEST_TIER=scale $(PY) -m pytest -m "not browser and not pure" $(PYTEST_ARGS)

# ruff (check and format, complexity <= 10), mypy, the import contracts (.importlinter: the policy
# stays pure, terminals never query models, pages never import the JSON API), ESLint.
lint: $(VENV)/.installed lint-js
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy backend kiosk display counter manager --ignore-missing-imports --exclude backend/migrations
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

extract-messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o backend/translations/messages.pot .
	$(VENV)/bin/pybabel update -i backend/translations/messages.pot -d backend/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance test-artifacts

# The simulator: every call policy over the same simulated day (see bench/README.md).
SCENARIO ?= bench/scenarios/weekday.toml
.PHONY: sim
sim: prepare
	$(PY) bench/sim.py $(SCENARIO) $(ARGS)

# Every call policy against FIFO on the two scenarios and a generated family of 50 halls
# (bench/README.md): ARGS="--halls 10 --seeds 3 --json /tmp/family.json".
.PHONY: bench-policy
bench-policy: prepare
	$(PY) bench/policy_family.py $(ARGS)

# The wait estimate beside an oracle's (bench/README.md, "The oracle"): ARGS="--seeds 10".
.PHONY: bench-oracle
bench-oracle: prepare
	$(PY) bench/oracle.py $(ARGS)

# The core's benchmark (bench/BENCHMARKS.md): ARGS="--before /tmp/hq-before", or --quick.
.PHONY: bench-core
bench-core: prepare
	$(PY) bench/bench_core.py $(ARGS)

# The reports over a generated year of a busy store (bench/BENCHMARKS.md, "Reports"):
# ARGS="--postgres postgresql+psycopg://127.0.0.1:5432/postgres" adds the scale tier.
.PHONY: bench-reports
bench-reports: prepare
	$(PY) bench/bench_reports.py $(ARGS)

# A simulated month through the live API: the estimate's accuracy in the report, and the staffing
# advice for a Tuesday of it (bench/BENCHMARKS.md, "Estimate accuracy, live"): ARGS="--days 10".
.PHONY: bench-accuracy
bench-accuracy: prepare
	$(PY) bench/bench_accuracy.py $(ARGS)

# The load benchmark on both tiers and both async modes (bench/BENCHMARKS.md): ARGS="--quick".
.PHONY: bench-load
bench-load: prepare services
	$(PY) bench/bench_load.py $(ARGS)

# Files generated from the server's single source of truth (tests fail when they are stale).
.PHONY: generate
generate: $(VENV)/.installed
	$(PY) -m backend.live.events > static/js/lib/events.js

# The display's voice pack (static/voice/default), from offline speech engines in Debian's packages.
.PHONY: voice-pack
voice-pack:
	@command -v espeak-ng >/dev/null && command -v text2wave >/dev/null && command -v sox >/dev/null \
	  && command -v opusenc >/dev/null && test -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      espeak-ng festival festvox-us-slt-hts sox opus-tools >/dev/null)
	$(PYTHON) scripts/make_voice_pack.py
