# Two commands on a fresh machine:  `make run` (mock mode) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup run test browser bench clean install uninstall

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The dashboard on http://localhost:8080/ with a simulated athlete, no hardware.
run: setup
	$(BIN)/dowel run --mock

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

test: setup browser
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/dowel bench

clean:
	rm -rf $(VENV) tests/output *.egg-info

# On a Raspberry Pi (Bookworm):  sudo make install  (again later: upgrades, keeps config and history).
#   make install ROOT=DIR   stages every file into DIR and runs no system command (CI does).
#   make uninstall [PURGE=1] removes the program; PURGE=1 also the config, token and history.
ROOT  ?= /
PURGE ?=
install:
	python3 systemd/install.py install --root "$(ROOT)"

uninstall:
	python3 systemd/install.py uninstall --root "$(ROOT)" $(if $(filter 1 yes true,$(PURGE)),--purge)
