# Two commands from a fresh clone: `make demo` and `make test`. Both set up .venv through `make setup`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==25.3"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/voicekit demo --out demo-out

test: setup
	$(BIN)/python -m pytest -q -n auto --maxprocesses 2 --dist loadfile

bench: setup
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
