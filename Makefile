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
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

%.mo: %.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

translations: $(CATALOGUES)

prepare: $(VENV)/.installed translations

run: prepare
	HOST=$(HOST) PORT=$(PORT) $(PY) -m backend run

# Debian's Chromium for the browser tests (installed once, when missing and we may).
browser:
	@bash scripts/ensure-chromium.sh

# The npm tools (axe-core for the browser tests' accessibility audit, ESLint), from the npm registry.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# The browser JavaScript (static/js, native ES modules): ESLint, and node's test runner on tests/js.
.PHONY: lint-js test-js
lint-js: node_modules/axe-core/axe.min.js
	npx eslint static/js tests/js

test-js: node_modules/axe-core/axe.min.js
	node --test tests/js/

test: prepare browser lint node_modules/axe-core/axe.min.js
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

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

# The display's voice pack (static/voice/default), from offline speech engines in Debian's packages.
.PHONY: voice-pack
voice-pack:
	@command -v espeak-ng >/dev/null && command -v text2wave >/dev/null && command -v sox >/dev/null \
	  && command -v opusenc >/dev/null && test -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      espeak-ng festival festvox-us-slt-hts sox opus-tools >/dev/null)
	$(PYTHON) scripts/make_voice_pack.py
