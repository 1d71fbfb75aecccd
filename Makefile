# `make test` and `make twin` set up ./venv themselves (the same virtualenv `pulumi up` uses): uv installs exactly
# what uv.lock pins, hashes checked, plus the test group.
VENV ?= venv
#: uv itself, pinned, in a virtualenv of its own.
UV_VERSION := 0.13.9
UV := .uv/bin/uv
# The stack `make twin` runs: dev, prod or byo.
STACK ?= dev
PYTHON := $(VENV)/bin/python

.PHONY: test twin bench lock mutate mutate-sample

$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --group test --quiet
	touch $@

# After changing a dependency in pyproject.toml or app/requirements.in: pin everything again, with hashes.
lock: $(UV)
	$(UV) lock
	$(UV) pip compile app/requirements.in --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet -o app/requirements.txt

# After a deliberate change to a URN or to an input that replaces a resource: each stack's upgrade snapshot
# (tests/snapshots/, checked by tests/test_upgrade_snapshot.py), taken again; review the diff and commit it.
.PHONY: snapshot
snapshot: $(VENV)/.installed
	$(PYTHON) tests/test_upgrade_snapshot.py --refresh

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint app/Dockerfile
	$(VENV)/bin/zizmor --offline --quiet --no-progress .github/
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml && $(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(VENV)/bin/basedpyright --project pyproject.toml --pythonpath $(PYTHON)
	$(PYTHON) -m pytest -q -n 2

twin: $(VENV)/.installed
	$(PYTHON) -m twin --stack $(STACK)

# The twin's bench (steady state, propagation, scale; `$(PYTHON) -m twin.bench --only scale` runs one part) and
# the app's bench both run even if the first misses a goal; the target fails if either does.
bench: $(VENV)/.installed
	status=0; $(PYTHON) -m twin.bench || status=1; $(PYTHON) tests/app_bench.py || status=1; exit $$status

# Mutation testing (not part of `make test`: hours on two cores the first time). mutmut mutates what
# `[tool.mutmut] source_paths` in pyproject.toml names, runs each mutant against the tests that reach it, the app's
# subprocesses included, and keeps its results in mutants/: a later run tries again only the mutants no test killed
# and those of changed functions. Then the score per file, with the equivalent mutants tests/mutation-equivalents.txt
# accepts left out. `MUTATE_MIN=95` fails below that score.
MUTATE_MIN ?= 0
mutate: $(VENV)/.installed
	$(PYTHON) tests/mutate.py run --max-children 2
	$(PYTHON) tests/mutate.py report --min $(MUTATE_MIN)

# The same on a random share of each file's mutants (MUTATE_PERCENT, at least 25 a file, drawn by MUTATE_SEED):
# the score of the sample, and the 95 % interval it gives the whole score, in about an hour.
MUTATE_PERCENT ?= 10
MUTATE_SEED ?= 0
mutate-sample: $(VENV)/.installed
	$(PYTHON) tests/mutate.py sample --percent $(MUTATE_PERCENT) --seed $(MUTATE_SEED)
	$(PYTHON) tests/mutate.py report --sample
