# bimtek — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
SECRET  = $${BIMTEK_SECRET_KEY:-$$(cat instance/secret_key)}

.PHONY: run test lint format install install-test serve init demo clean

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

# Next to gunicorn: `bimtek backup --loop` (BIMTEK_BACKUP_DIR, every BIMTEK_BACKUP_EVERY s when
# something changed); the trap stops it when gunicorn stops (Ctrl+C or a crash).
serve: install instance/secret_key
	@echo "bimtek: http://$(HOST):$(PORT)  (Ctrl+C to stop)"
	@export BIMTEK_SECRET_KEY=$(SECRET); \
	$(BIN)/bimtek backup --loop & backup=$$!; \
	trap 'kill $$backup 2>/dev/null; wait $$backup' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) "bimtek:create_app()"

run: demo serve

lint: install-test
	$(BIN)/ruff check bimtek tests bench
	$(BIN)/ruff format --check bimtek tests bench

format: install-test
	$(BIN)/ruff format bimtek tests bench
	$(BIN)/ruff check --fix bimtek tests bench

test: install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
