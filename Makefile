# Two commands: `make lab` opens the course, `make test` runs every test.
# Both build .venv first. torch comes first, in the build that fits the machine
# (cnnlab/_install.py: the CPU build unless TORCH=cuda), so that the next step finds
# `torch` already satisfied and pip never pulls the multi-gigabyte CUDA build.
PYTHON ?= python3
TORCH  ?= cpu
VENV   := .venv
BIN    := $(VENV)/bin
TORCH_STAMP := $(VENV)/.torch-$(TORCH)
LAB_STAMP   := $(VENV)/.installed-lab
TEST_STAMP  := $(VENV)/.installed-test

.PHONY: lab test install clean browser-deps grading-deps student-bundle quick

install: $(LAB_STAMP)

$(TORCH_STAMP): cnnlab/_install.py
	@for other in $(VENV)/.torch-*; do \
	  if [ -e "$$other" ] && [ "$$other" != "$(TORCH_STAMP)" ]; then \
	    echo "$(VENV) holds the $${other##*.torch-} build of torch; run 'make clean' first to switch to TORCH=$(TORCH)"; \
	    exit 1; fi; done
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python cnnlab/_install.py --torch $(TORCH) --run
	touch $@

# Students: the runtime only.
$(LAB_STAMP): $(TORCH_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Developers: the runtime plus the test extra (pytest, hypothesis, playwright, build, ...).
$(TEST_STAMP): $(LAB_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# JupyterLab refuses to start as root (containers, cloud shells) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(LAB_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

# Never installs system packages: the browser tests skip, saying so, without Chromium.
test: $(TEST_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# The fast subset (a few minutes): everything not marked slow or browser, lint and doctests included.
quick: $(TEST_STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

# Chromium for tests/test_browser.py and the offline-feedback screenshot. Run once per machine,
# as root, before `make test` (CI does: .ci/run). Never fails: without Chromium those tests skip.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
	    || echo "chromium not installed: browser tests will be skipped"; \
	else echo "chromium not installed (run 'make browser-deps' as root, or install it yourself): browser tests will be skipped"; fi

# bubblewrap, the sandbox every grading kernel runs in (cnnlab/course/sandbox.py). Instructors (and CI)
# run this once per machine, as root; without it `nbgrader autograde` refuses to grade.
grading-deps:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap) \
	    || echo "bubblewrap not installed: grading tests will run without the sandbox"; \
	else echo "bubblewrap not installed (run 'make grading-deps' as root, or install it yourself)"; fi

# What a graded course hands out: release notebooks + the cnnlab wheel + a student README,
# never solutions/ (cnnlab/course/bundle.py). Writes dist/cnnlab-student-<version>.zip.
student-bundle: $(LAB_STAMP)
	$(BIN)/python -m cnnlab.course.bundle --out dist

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
