# Two commands: `make lab` opens the course, `make test` runs every test.
# Both build .venv first (torch is installed from its CPU pin before the rest,
# so that pip does not pull the CUDA build).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test install clean browser-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# JupyterLab refuses to start as root (containers, cloud shells) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: $(STAMP) browser-deps
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# Chromium for tests/test_browser.py: installed with apt-get when running as root, never fails
# (without it the browser tests are skipped).
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
	    || echo "chromium not installed: browser tests will be skipped"; \
	else echo "chromium not installed: browser tests will be skipped"; fi

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
