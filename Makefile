# `make test` and `make twin` set up ./venv themselves (the same virtualenv `pulumi up` uses).
VENV ?= venv
# The stack `make twin` runs: dev or prod.
STACK ?= dev
PYTHON := $(VENV)/bin/python

.PHONY: test twin bench

$(VENV)/.installed: requirements.txt requirements-dev.txt app/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint app/Dockerfile
	$(VENV)/bin/zizmor --offline --quiet --no-progress .github/
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml && $(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(PYTHON) -m pytest -q

twin: $(VENV)/.installed
	$(PYTHON) -m twin --stack $(STACK)

# Both benches run even if the first misses a goal; the target fails if either does.
bench: $(VENV)/.installed
	status=0; $(PYTHON) -m twin.bench || status=1; $(PYTHON) tests/app_bench.py || status=1; exit $$status
