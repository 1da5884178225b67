# Two commands do everything on a fresh Debian machine, set-up included:
#   make quickstart   prepare the synthetic corpora and train the quickstart model (CPU)
#   make test         run the test suite
# Each installs what is missing first (apt: ffmpeg, espeak-ng, sox; pip: requirements.txt into .venv, then
# the project itself, editable, with its `ser-hf` command).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := ffmpeg espeak-ng sox chromium
STAMP := $(VENV)/.installed

.PHONY: setup system-packages quickstart test test-fast benchmarks clean

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

quickstart: setup
	$(PY) train.py --recipe quickstart

test: setup
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; fi; exit $$rc

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

benchmarks: setup
	$(PY) benchmarks/prepare.py
	$(PY) benchmarks/train.py
	$(PY) benchmarks/time_to_accuracy.py
	$(PY) benchmarks/latency.py
	$(PY) benchmarks/extract.py
	$(PY) benchmarks/trained_baselines.py
	$(PY) benchmarks/cross_validation.py
	$(PY) benchmarks/imports.py

clean:
	rm -rf $(VENV) prepared outputs .pytest_cache
