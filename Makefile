# configmgr.cmg: `make demo` runs the main job, `make test` runs every check. Both start from
# a bare machine with Python 3 and make: they create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
LINK := $(COLLECTIONS)/ansible_collections/configmgr/cmg
# Outside the work tree: inside it, git would ignore the copy and ansible-test would find no target.
SANITY_ROOT ?= $(or $(TMPDIR),/tmp)/configmgr-cmg-sanity-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
SANITY_TREE := $(SANITY_ROOT)/ansible_collections/configmgr/cmg
PYTEST_WORKERS ?= 2

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

.PHONY: demo demo-acme test venv collection system-deps units integration reliability limbo sanity lint changelog-lint docs docs-check build importer molecule bench bench-azcollection clean

# The demo shows the DNS wait with a real BIND 9 when it can be installed (root with apt-get);
# elsewhere it runs without that wait and says so.
demo: venv collection
	@$(MAKE) --no-print-directory system-deps || echo "demo: BIND 9 is not available, the demo runs without the DNS wait"
	$(BIN)/python demo/run.py

# The ACME path against Pebble and BIND: key, CSR, DNS-01, certificate, PFX, renewal report, idempotent re-run.
demo-acme: venv collection system-deps
	$(BIN)/python demo/acme.py

test: system-deps venv collection units integration reliability limbo sanity lint changelog-lint docs-check build molecule
	@echo "make test: all checks passed"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# The collection as Ansible finds it: a link from .build/collections to this working tree.
collection:
	@mkdir -p $(dir $(LINK))
	@test -L $(LINK) || ln -sfn $(CURDIR) $(LINK)

# Programs from the distribution that the tests run for real: BIND 9 (RFC 2136, propagation),
# the openssl CLI (an oracle independent of our own code), Pebble (the ACME test CA) and an MIT
# Kerberos KDC (GSS-TSIG); libkrb5-dev lets pip build the gssapi wheel.
system-deps:
	@if ! command -v named >/dev/null || ! command -v openssl >/dev/null || ! command -v pebble >/dev/null \
	    || ! command -v krb5kdc >/dev/null || ! command -v krb5-config >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bind9 bind9-utils openssl pebble \
	      krb5-kdc krb5-admin-server krb5-user libkrb5-dev >/dev/null; \
	  else echo "install BIND 9, openssl, pebble and MIT Kerberos, e.g. sudo apt-get install bind9 bind9-utils openssl pebble krb5-kdc krb5-admin-server krb5-user libkrb5-dev"; exit 1; fi; \
	fi

units: venv collection
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/unit

integration: venv collection system-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/integration

# Hostile input, faults and secrets (docs/reliability.md): property tests, the Azure fault matrix, the -vvvv run.
reliability: venv collection system-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests/reliability

# x509-limbo conformance of cmg_cert_validate (docs/findings.md): reads ../shared/x509-limbo/limbo.json
# beside the project root at run time (LIMBO=... for another copy); says so in one line when it is absent.
LIMBO ?= $(abspath $(CURDIR)/../shared/x509-limbo/limbo.json)
limbo: venv collection
	$(BIN)/python -W ignore -m tests.conformance.limbo --limbo $(LIMBO)

# ansible-test runs in a copy of the tracked files, laid out as ansible_collections/configmgr/cmg.
# Its --venv mode downloads a get-pip script from a host these machines cannot reach: seed its
# cache with tests/sanity/bootstrap_pip.py, which does the same from ensurepip and PyPI.
PIP_BOOTSTRAP_VERSION = $(shell $(BIN)/python -c "import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r\"pip='([0-9.]+)'\", inspect.getsource(r.get_venv_packages)).group(1))" 2>/dev/null)

sanity: venv
	mkdir -p $(HOME)/.ansible/test/cache
	cp tests/sanity/bootstrap_pip.py $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(PIP_BOOTSTRAP_VERSION)).py
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | grep -zv '^tests/output/' | xargs -0 cp --parents -t $(SANITY_TREE)
	set -o pipefail; cd $(SANITY_TREE) && $(BIN)/ansible-test sanity --venv --python 3.11 --color no 2>&1 | tee $(SANITY_ROOT)/sanity.log
	@! grep -q "All targets skipped" $(SANITY_ROOT)/sanity.log || { echo "sanity: ansible-test found no target to test"; exit 1; }

lint: venv collection
	$(BIN)/ansible-lint --offline --profile production roles playbooks extensions

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

# docs/reference is generated from the plugins' DOCUMENTATION; `make test` fails when it is stale.
docs: venv collection
	$(BIN)/python docs/generate_reference.py

docs-check: venv collection
	$(BIN)/python docs/generate_reference.py --check

build: venv
	rm -rf .build/dist && $(BIN)/ansible-galaxy collection build --force --output-path .build/dist >/dev/null
	@ls .build/dist/configmgr-cmg-*.tar.gz

# galaxy-importer (Galaxy's own import checks) on the built tarball, offline, in its own venv (it pins its own
# ansible-lint). Not part of `make test` yet: it refuses a collection without a `repository` URL in galaxy.yml,
# and the project has none (see docs/developing.md).
IMPORTER_VENV := $(CURDIR)/.build/importer-venv
importer: build
	test -x $(IMPORTER_VENV)/bin/python || $(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/python -m pip install --quiet "galaxy-importer>=0.4.44"
	GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/importer/galaxy-importer.cfg PATH=$(IMPORTER_VENV)/bin:$$PATH \
	  $(IMPORTER_VENV)/bin/python -m galaxy_importer.main .build/dist/configmgr-cmg-*.tar.gz

# molecule finds the collection scenarios (extensions/molecule/) from the collection root.
molecule: venv collection
	$(BIN)/molecule test

# Speed (docs/performance.md): each module task against ansible.builtin.ping, the prepare re-run against as
# many ping tasks, imported modules, peak RSS, Azure requests, the name checks' concurrency, ACME's client-side
# time; writes .build/bench/results.json and fails when a target is missed. Then the monitor over 20 CMGs.
# Not part of `make test`: timings on a shared machine are noise. BENCH_RUNS sets the interleaved rounds.
BENCH_RUNS ?= 7
bench: venv collection system-deps
	@status=0; $(BIN)/python -m tests.benchmarks.bench --runs $(BENCH_RUNS) || status=1; \
	  $(BIN)/python -m tests.benchmarks.monitor || status=1; exit $$status

# cmg_cname against azure.azcollection's azure_rm_dnsrecordset for the same CNAME in the sandbox (docs/performance.md).
# azure.azcollection comes from the `ansible` wheel on PyPI and gets its own venv under .build/azcollection (its
# requirements pin exact versions that conflict with ours). Writes .build/bench/azcollection.json. Not in `test` or `bench`.
bench-azcollection: venv collection
	$(BIN)/python -m tests.benchmarks.azcollection --runs $(BENCH_RUNS)

clean:
	rm -rf .build .venv .pytest_cache
