# Two commands on a fresh machine: `make run` (the app on a demo sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := openssh-server openssh-client postgresql-15 postgresql-client-15 tmux

.PHONY: run test setup system-packages lint benchmark clean

run: setup
	$(BIN)/dflow-tui --demo

# Two test processes (pytest-xdist): each starts its own PostgreSQL, sshd and moto.
test: setup system-packages lint
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --durations=15

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,postgres]"
	touch $@

# Real sshd, PostgreSQL and tmux for the test suite (Debian/Ubuntu; needs root or sudo).
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: setup
	$(BIN)/lint-imports

benchmark: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
