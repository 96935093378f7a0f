# bimtek — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
SECRET  = $${BIMTEK_SECRET_KEY:-$$(cat instance/secret_key)}
# Workers and threads come from bimtek/gunicorn_conf.py: one worker with threads while sign-in
# counters live in memory (BIMTEK_RATELIMIT_STORAGE_URL unset or memory://), several workers
# (WEB_CONCURRENCY, default 2) when they go to a shared store such as redis://.
GUNICORN_ARGS = -c python:bimtek.gunicorn_conf

.PHONY: run test lint format install install-test serve worker init demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

init: install instance/secret_key
	BIMTEK_SECRET_KEY=$(SECRET) $(BIN)/bimtek init

demo: init
	BIMTEK_SECRET_KEY=$(SECRET) $(BIN)/bimtek demo

# Links and QR codes must open on the participants' phones: unless BIMTEK_PUBLIC_URL is set,
# it is derived from HOST and PORT (HOST=0.0.0.0: this laptop's LAN address).
# Next to gunicorn: `bimtek backup --loop` (BIMTEK_BACKUP_DIR, every BIMTEK_BACKUP_EVERY s when
# something changed); the trap stops it when gunicorn stops (Ctrl+C or a crash).
serve: install instance/secret_key
	@public_url="$${BIMTEK_PUBLIC_URL:-$$($(BIN)/python -m bimtek.settings.publicurl '$(HOST)' '$(PORT)')}"; \
	echo "bimtek: serving on $(HOST):$(PORT)  (Ctrl+C to stop)"; \
	echo "bimtek: links and QR codes point to $$public_url  (BIMTEK_PUBLIC_URL)"; \
	export BIMTEK_PUBLIC_URL="$$public_url" BIMTEK_SECRET_KEY=$(SECRET); \
	$(BIN)/bimtek backup --loop & backup=$$!; \
	$(WORKER) & worker=$$!; \
	trap 'kill $$backup $$worker 2>/dev/null; wait $$backup $$worker' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn $(GUNICORN_ARGS) --bind $(HOST):$(PORT) "bimtek:create_app()"

# Background jobs (large rekap, certificate zips, bulk issue): `make serve` starts this beside
# gunicorn and stops it with gunicorn. Queue: BIMTEK_QUEUE_URL (default a SQLite file).
WORKER = $(BIN)/bimtek worker
worker: install instance/secret_key
	BIMTEK_SECRET_KEY=$(SECRET) exec $(WORKER)

run: demo serve

lint: install-test
	$(BIN)/ruff check bimtek tests bench
	$(BIN)/ruff format --check bimtek tests bench

format: install-test
	$(BIN)/ruff format bimtek tests bench
	$(BIN)/ruff check --fix bimtek tests bench

# One pytest worker per core (xdist; a test file stays on one worker): each builds its own seeded
# databases. PYTEST_WORKERS=0 runs everything in one process. Bytecode is written even where the
# environment says not to (PYTHONDONTWRITEBYTECODE): otherwise every worker, and every server or
# job worker a test starts, compiles bimtek and rewrites the tests' asserts again (~8 s each).
PYTEST_WORKERS ?= auto

test: install-test lint
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
