# Two commands on a fresh machine: `make run` (the app on a demo sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The suite's real services and the tools it reads our output with (age, zstd).
APT_PACKAGES := openssh-server openssh-client postgresql-15 postgresql-client-15 mariadb-server mariadb-client redis-server redis-tools tmux age zstd
# The benchmark's own venv: the project plus awscli v1 (which pins botocore unlike aiobotocore).
BENCH_VENV := .venv-bench
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_APT_PACKAGES := openssh-server openssh-client zstd age
ONLY ?=

.PHONY: run test setup system-packages lint benchmark bench-setup bench-system-packages clean

run: setup
	$(BIN)/dflow-tui --demo

# Two test processes (pytest-xdist): each starts its own PostgreSQL, sshd and moto.
test: setup system-packages lint
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist worksteal --durations=15

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,lint]"
	touch $@

# Installs the Debian packages in $(1) that are missing (needs root or sudo).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

# Real sshd, PostgreSQL, MariaDB, redis-server and tmux for the test suite (Debian/Ubuntu; needs root or sudo).
system-packages:
	$(call apt_install,$(APT_PACKAGES))

# The layering contract, lint, format and types: CI fails on any of them.
lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check dflow_tui tests benchmarks
	$(BIN)/ruff format --check dflow_tui tests benchmarks
	$(BIN)/mypy

# All sections, or some: `make benchmark ONLY=data_path`, `make benchmark ONLY="startup codec_speed"`.
# BENCH_RUNS=N sets how many times each timed command runs (default 3).
benchmark: bench-setup bench-system-packages
	$(BENCH_BIN)/python -m benchmarks $(ONLY)

bench-setup: $(BENCH_VENV)/.installed

$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip
	$(BENCH_BIN)/pip install --quiet -e . -r benchmarks/requirements.txt
	touch $@

# sshd for the data path; Debian's zstd and age for the reference lines.
bench-system-packages:
	$(call apt_install,$(BENCH_APT_PACKAGES))

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache
