# The two commands of the README:
#   make demo   set everything up and run the main job (an agent run with an approval,
#               offline, on embedded DuckDB)
#   make test   set everything up (system packages too) and run ruff and every test
#   make studio serve Studio (the web UI) on the demo's data agent; open the printed URL
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -qq --disable-pip-version-check

.PHONY: demo studio test lint system-deps clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[test]"
	touch $@ $(VENV)/.installed $(VENV)/.installed-studio

demo: $(VENV)/.installed
	$(BIN)/python -m flowai_nb.demo

$(VENV)/.installed-studio: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[studio,mcp]"
	touch $@ $(VENV)/.installed

studio: $(VENV)/.installed-studio
	$(BIN)/flowai-nb studio flowai_nb.studio.demo:app $(STUDIO_ARGS)

system-deps:
	bash scripts/install-system-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check flowai_nb tests bench

test: $(VENV)/.installed-test system-deps lint
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(PIP) install -e ".[bench]"
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build dist
