# TradeWatch. `make up` starts the stack with Docker Compose; `make test` runs the whole suite and
# installs what it needs (virtualenv, Python packages, Debian's Prometheus and Alertmanager).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
COMPOSE ?= docker compose
# make test's workers: most tests wait on Prometheus/Alertmanager, so 4 on 2 cores (tests/scheduling.py;
# TEST_WORKERS=0 runs serially)
TEST_WORKERS ?= 4
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

.PHONY: help secrets up doctor down logs dev dev-clean test fuzz lint bench dashboards prometheus-native system-deps test-containers clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

system-deps:
	@bash tools/install-system-deps.sh

secrets: ## create empty placeholders for missing Compose secret files (never overwrites)
	@for f in slack_webhook_url smtp_password pagerduty_routing_key opsgenie_api_key telegram_bot_token telegram_chat_id alert_webhook_url heartbeat_url; do [ -e secrets/$$f ] || install -m 644 /dev/null secrets/$$f; done

up: secrets ## start the whole stack with Docker Compose
	@if ! docker info >/dev/null 2>&1; then \
	  echo "No Docker engine answers here: run 'make dev' for the native stack on loopback."; exit 1; fi
	@test -f .env || { echo "No .env: cp .env.example .env and set GRAFANA_ADMIN_PASSWORD first."; exit 1; }
	$(COMPOSE) up -d --build

doctor: $(STAMP) ## check the running stack (compose or make dev) and say what to fix
	$(VENV)/bin/tradewatch doctor

down: ## stop the Compose stack (volumes are kept)
	$(COMPOSE) down

logs: ## follow the Compose stack's logs
	$(COMPOSE) logs -f --tail=100

SCENARIO ?=
DEV_ARGS = $(if $(SCENARIO),--scenario $(SCENARIO))

dev: $(STAMP) system-deps ## run the stack natively on loopback (no Docker); SCENARIO=flash-crash for an incident
	$(VENV)/bin/tradewatch dev $(DEV_ARGS)

dev-clean: $(STAMP) system-deps ## like dev, after deleting the earlier runs' journals and Prometheus data (.dev/)
	$(VENV)/bin/tradewatch dev --fresh $(DEV_ARGS)

test: $(STAMP) system-deps ## the whole suite (self-installing)
	$(VENV)/bin/ruff check exporters tests tools
	$(VENV)/bin/ruff format --check exporters tests tools
	$(PY) -m pytest $(PYTEST_PARALLEL)

fuzz: $(STAMP) ## the fuzz suite, longer: FUZZ_EXAMPLES=n examples per test (default 20x make test's)
	FUZZ_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/fuzz -s -q --timeout 0

faults: $(STAMP) ## the fault-injection suite, longer: FAULT_ROUNDS=n kill -9 rounds (default 200; make test runs 8)
	FAULT_ROUNDS=$(or $(FAULT_ROUNDS),200) $(PY) -m pytest tests/faults -s -q --timeout 0

test-containers: $(STAMP) ## build the images, run the stack in containers on a private dockerd (root)
	@bash tools/containers/run.sh

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check exporters tests tools
	$(VENV)/bin/ruff format --check exporters tests tools

bench: $(STAMP) ## benchmarks (scrape latency, ingest throughput, alert latency, sizing: BENCH=sizing)
	@WITH_NODE_EXPORTER=1 bash tools/install-system-deps.sh
	$(PY) tests/bench/run.py $(BENCH)

dashboards: $(STAMP) ## regenerate grafana/dashboards and Grafana alerting provisioning
	$(VENV)/bin/tradewatch dashboards

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
