# jobscheduler.js7 — one entry point for developers and CI.
#
#   make demo   fresh machine -> the standalone-Secondary lab, diagnosed and shown
#   make test   every gate CI runs (.ci/run calls it)
#
# Every target builds .venv from requirements-dev.txt on first use, so a fresh
# clone needs nothing but `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt requirements.txt | cksum | cut -d' ' -f1)

# ansible-playbook and molecule find the collection here (a link to this tree).
COLLECTIONS_ROOT := $(CURDIR)/build/collections
COLLECTION_LINK := $(COLLECTIONS_ROOT)/ansible_collections/jobscheduler/js7
# ansible-test needs a real copy under ansible_collections/ (tests/utils/stage_collection.py).
SANITY_ROOT := $(CURDIR)/build/sanity
SANITY_DIR := $(SANITY_ROOT)/ansible_collections/jobscheduler/js7

# Every Python that pyenv has: ansible-test runs compile/import on each of them.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PYENV_BINS := $(subst $(eval) ,:,$(wildcard $(PYENV_ROOT)/versions/3.*/bin))
SANITY_PYTHONS ?= 3.8 3.9 3.10 3.11 3.12 3.13
# pip 24.2 is the version ansible-test 2.19 bootstraps in its venvs.
GET_PIP_CACHE := $(HOME)/.ansible/test/cache/get_pip_24_2.py

# Drops the pip chatter of ansible-test's venv bootstrap from the log; the exit
# status stays ansible-test's (pipefail).
QUIET_PIP := { grep -vE '^ *(WARNING: Location|Looking in|Collecting|Downloading|Installing collected|Successfully|Processing|Attempting|Found existing|Uninstalling|Using cached|Requirement already|━)' || true; }

LAB_DIR ?= .lab
LAB_ARGS ?=

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)
export ANSIBLE_FORCE_COLOR ?= 0
export PYTHONDONTWRITEBYTECODE := 1
# The venv's tools first: ansible-lint, molecule and ansible-test call each other by name.
export PATH := $(BIN):$(PATH)

# pytest exits 5 when it collected nothing: a gate that ran no test has failed.
define pytest
	set +e; $(BIN)/python -m pytest $(1); rc=$$?; set -e; \
	if [ $$rc -eq 5 ]; then echo "ERROR: pytest collected no tests for: $(1)" >&2; exit 1; fi; \
	exit $$rc
endef

.PHONY: help venv collection system-deps demo test units sanity lint integration molecule \
        lab-up lab-down bench docs clean

help:
	@echo "make demo         start the standalone-Secondary lab, show diagnosis and recovery"
	@echo "make test         every gate: units sanity lint integration molecule"
	@echo "make units | sanity | lint | integration | molecule"
	@echo "make lab-up [LAB_ARGS='--state healthy --version 2.7'] | lab-down"
	@echo "make bench | docs | clean"

$(STAMP): requirements-dev.txt requirements.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

collection: $(STAMP)
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

# Debian packages the netns lab needs (sshd, ip) and sudo, the become method JS7
# hosts use. Root only; others are told.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  if ! [ -x /usr/sbin/sshd ] || ! command -v sudo >/dev/null || ! command -v ip >/dev/null; then \
	    echo "Installing Debian packages for the netns lab: openssh-server sudo iproute2"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server sudo iproute2 >/dev/null; \
	  fi; \
	else \
	  echo "NOTE: not root: the netns lab (and its Debian packages) is skipped; CI runs it as root."; \
	fi

demo: collection
	$(BIN)/python -m tests.lab demo --dir $(LAB_DIR) $(LAB_ARGS)

test: units sanity lint integration molecule
	@echo "make test: all gates passed"

units: collection
	$(call pytest,tests/unit -p no:cacheprovider)

sanity: collection
	$(BIN)/python tests/utils/stage_collection.py $(SANITY_ROOT) >/dev/null
	@mkdir -p $(dir $(GET_PIP_CACHE)) && cp tests/sanity/get_pip_standin.py $(GET_PIP_CACHE)
	@pythons=""; for v in $(SANITY_PYTHONS); do \
	  if PATH="$(PYENV_BINS):$$PATH" command -v python$$v >/dev/null; then pythons="$$pythons $$v"; \
	  else echo "NOTE: python$$v not found: compile/import sanity skipped for it"; fi; done; \
	echo "sanity: controller tests on 3.11, compile/import on:$$pythons"; \
	cd $(SANITY_DIR) && export PATH="$(BIN):$(PYENV_BINS):$$PATH" && \
	$(BIN)/ansible-test sanity --venv --python 3.11 --color no 2>&1 | $(QUIET_PIP) && \
	for v in $$pythons; do \
	  [ "$$v" = 3.11 ] && continue; \
	  $(BIN)/ansible-test sanity --venv --python $$v --test compile --test import --color no 2>&1 | $(QUIET_PIP); \
	done
	$(BIN)/python tests/sanity/prove_gates.py

lint: collection
	$(BIN)/ansible-lint --offline

integration: collection system-deps
	$(call pytest,tests/integration -p no:cacheprovider)

molecule: collection
	@scenarios=$$(ls -d extensions/molecule/*/molecule.yml 2>/dev/null | wc -l); \
	if [ "$$scenarios" = 0 ]; then echo "molecule: no scenarios yet (they arrive with the roles)"; exit 0; fi; \
	NO_COLOR=1 $(BIN)/molecule test --all

lab-up: collection
	$(BIN)/python -m tests.lab up --dir $(LAB_DIR) $(LAB_ARGS)

lab-down: collection
	$(BIN)/python -m tests.lab down --dir $(LAB_DIR)

bench: collection
	@found=0; for run in bench/*/run; do [ -x "$$run" ] || continue; found=1; \
	  echo "== $$run"; PATH="$(BIN):$$PATH" "$$run"; done; \
	[ $$found = 1 ] || echo "bench: no benchmarks yet"

# Renders every plugin's documentation with ansible-doc (fails on broken docs)
# into build/docs, next to the guides in docs/.
docs: collection
	@mkdir -p build/docs
	@for f in plugins/modules/*.py; do \
	  [ -e "$$f" ] || continue; m=$$(basename $$f .py); \
	  $(BIN)/ansible-doc -t module jobscheduler.js7.$$m > build/docs/$$m.txt; done
	@for r in roles/*/; do \
	  [ -d "$$r" ] || continue; r=$$(basename $$r); \
	  $(BIN)/ansible-doc -t role jobscheduler.js7.$$r > build/docs/role-$$r.txt; done
	@echo "docs: rendered to build/docs; guides in docs/"

clean:
	-@[ -d $(LAB_DIR) ] && [ -x $(BIN)/python ] && $(BIN)/python -m tests.lab down --dir $(LAB_DIR) || true
	rm -rf $(VENV) build collections tests/output .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
