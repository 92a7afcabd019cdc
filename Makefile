# XinLian task runner. `make demo` and `make test` set up the virtual environment on
# first use (and again whenever pyproject.toml changes).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench lint format proto clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  virtualenv -p $(PYTHON) $(VENV) >/dev/null 2>&1; } || { \
	  rm -rf $(VENV); \
	  echo "'$(PYTHON) -m venv' failed: on Debian/Ubuntu install the venv module with" >&2; \
	  echo "  sudo apt-get install -y python3-venv" >&2; \
	  echo "(or install virtualenv), then run make again." >&2; \
	  exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	scripts/ensure_test_deps.sh
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not postgres and not slow"

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy xinlian/errors.py xinlian/signing.py xinlian/clock.py xinlian/durable.py gateway node_agent authz audit xinlian/identity.py xinlian/pki.py xinlian/limits.py xinlian/exit_codes.py xinlian/console.py xinlian_cli xinlian_samples

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
