# Everything a fresh machine needs, from nothing: `make demo` runs the main job, `make test` the tests.
# Both install the mem0, langmem and hosted extras (torch's CPU build first); `make test` also installs
# Debian's chromium, which the HTML report's browser test opens. Systems with environments of their own
# (MemOS, A-Mem, cognee) are installed by `membench systems install NAME`; their tests are slow ones.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-core
STAMP_MEM0 := $(VENV)/.installed-mem0
export MEM0_TELEMETRY := False
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test test-slow lint typecheck check bench clean install install-mem0 chromium envs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch (CPU build) must be installed before anything that depends on it, or pip pulls a CUDA build.
$(STAMP_MEM0): $(STAMP)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,mem0,langmem,hosted]'
	touch $@

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)
install-mem0: $(STAMP_MEM0)

# The browser test needs a Chromium: Debian's package when there is none (as root, or with sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

demo: $(STAMP_MEM0)
	$(BIN)/membench run --task halumem --system mem0

# Two workers (pytest-xdist): the suite is mostly waiting on subprocesses and loopback servers.
test: $(STAMP_MEM0) chromium
	$(BIN)/pytest -q -n 2 --durations=15

# The environments of the systems that cannot share membench's (`membench systems install NAME`;
# each is made once and reused while its requirements file is unchanged).
SYSTEM_ENVS := memos amem cognee
envs: $(STAMP_MEM0)
	for name in $(SYSTEM_ENVS); do $(BIN)/membench systems install $$name || exit 1; done

# The command line's -m replaces the one in pyproject's addopts ('not slow and not live'), so this
# selects the slow tests; live ones stay out here too. They include the systems in their own
# environments, which `envs` installs first.
test-slow: $(STAMP_MEM0) envs
	$(BIN)/pip install --quiet -e '.[ray]'
	$(BIN)/pytest -q -n 2 --dist loadfile -m 'slow and not live'

lint: $(STAMP)
	$(BIN)/ruff check membench tasks data_builders tests benchmarks

# mypy checks membench_tasks and membench_builders by their installed names (see pyproject's
# [tool.mypy]): links of those names to the folders, in the directory pyproject gives as mypy_path.
MYPY_LINKS := $(VENV)/mypy-path/membench_tasks $(VENV)/mypy-path/membench_builders
$(VENV)/mypy-path/membench_tasks:
	mkdir -p $(@D) && ln -sfn ../../tasks $@
$(VENV)/mypy-path/membench_builders:
	mkdir -p $(@D) && ln -sfn ../../data_builders $@

typecheck: $(STAMP) $(MYPY_LINKS)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP_MEM0) envs
	$(BIN)/python benchmarks/bench_runner.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_mem0.py
	$(BIN)/python benchmarks/sim_policy.py
	$(BIN)/python benchmarks/bench_systems.py
	$(BIN)/python benchmarks/bench_concurrency.py
	$(BIN)/pip install --quiet -e '.[ray]'
	$(BIN)/python benchmarks/bench_ray.py bm25 --users 100
	$(BIN)/python benchmarks/bench_ray.py llm --users 40 --episodes 8

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
