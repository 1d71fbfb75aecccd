# Each installer has an environment of its own, so that none undoes another's work:
# - ./venv, the program's: `pulumi install` and `pulumi up` run Pulumi's uv toolchain (Pulumi.yaml), an exact
#   `uv sync` of the program's dependencies, which removes anything else;
# - $(TEST_VENV), the tests': every `make test` syncs it to uv.lock plus the test group (uv checks what is installed
#   and puts right whatever is missing or stale, in a fraction of a second when nothing is);
# - policy/venv, the policy pack's: `make policy`, as `pulumi install` in policy/ would;
# - provider/venv and bootstrap/venv: Pulumi's pip toolchain makes them from their requirements.txt on first use.
TEST_VENV ?= .venv-test
#: uv itself, pinned, in a virtualenv of its own.
UV_VERSION := 0.13.9
UV := .uv/bin/uv
# The stack `make twin` runs: dev, prod or byo.
STACK ?= dev
PYTHON := $(TEST_VENV)/bin/python

.PHONY: test test-env policy twin bench lock mutate mutate-sample

$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

# Exactly what uv.lock pins, hashes checked, plus the test group; `--locked` refuses a lock that no longer matches
# pyproject.toml.
test-env: $(UV)
	UV_PROJECT_ENVIRONMENT=$(TEST_VENV) $(UV) sync --locked --group test --quiet

# The policy pack's virtualenv, as Pulumi's pip toolchain makes it (PulumiPolicy.yaml): needed once before
# `pulumi preview --policy-pack policy`, which installs nothing itself.
policy:
	python3 -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --require-hashes -r policy/requirements.txt

# After changing a dependency in pyproject.toml, app/requirements.in or policy/requirements.in: pin everything
# again, with hashes. requirements.txt is uv.lock's runtime set for pip users (the provider and the bootstrap
# install it too); the policy pack's shared packages are held to the same versions.
lock: $(UV)
	$(UV) lock
	$(UV) export --frozen --no-default-groups --no-emit-project --format requirements-txt --quiet -o requirements.txt
	$(UV) pip compile app/requirements.in --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet -o app/requirements.txt
	$(UV) pip compile policy/requirements.in --universal --python-version 3.11 --generate-hashes \
		--constraint requirements.txt --custom-compile-command "make lock" --quiet -o policy/requirements.txt

# After a deliberate change to a URN or to an input that replaces a resource: each stack's upgrade snapshot
# (tests/snapshots/, checked by tests/test_upgrade_snapshot.py), taken again; review the diff and commit it.
.PHONY: snapshot
snapshot: test-env
	$(PYTHON) tests/test_upgrade_snapshot.py --refresh

test: test-env
	$(TEST_VENV)/bin/ruff check .
	$(TEST_VENV)/bin/ruff format --check .
	$(TEST_VENV)/bin/hadolint app/Dockerfile
	$(TEST_VENV)/bin/zizmor --offline --quiet --no-progress .github/
	$(TEST_VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml && $(TEST_VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(TEST_VENV)/bin/basedpyright --project pyproject.toml --pythonpath $(PYTHON)
	$(PYTHON) -m pytest -q -n 2

# Checkov's Azure checks on the prod stack (docs/production.md, "Checkov"), in a virtualenv of its own: Checkov
# brings many packages the tests do not need.
CHECKOV_VERSION := 3.3.30
.venv-checkov/bin/checkov:
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet checkov==$(CHECKOV_VERSION)

.PHONY: checkov
checkov: test-env .venv-checkov/bin/checkov
	$(PYTHON) tests/checkov_stack.py --stack prod --checkov .venv-checkov/bin/checkov

twin: test-env
	$(PYTHON) -m twin --stack $(STACK)

# The twin's bench (steady state, propagation, scale; `$(PYTHON) -m twin.bench --only scale` runs one part) and
# the app's bench both run even if the first misses a goal; the target fails if either does.
bench: test-env
	status=0; $(PYTHON) -m twin.bench || status=1; $(PYTHON) tests/app_bench.py || status=1; exit $$status

# Mutation testing (not part of `make test`: hours on two cores the first time). mutmut mutates what
# `[tool.mutmut] source_paths` in pyproject.toml names, runs each mutant against the tests that reach it, the app's
# subprocesses included, and keeps its results in mutants/: a later run tries again only the mutants no test killed
# and those of changed functions. Then the score per file, with the equivalent mutants tests/mutation-equivalents.txt
# accepts left out. `MUTATE_MIN=95` fails below that score.
MUTATE_MIN ?= 0
mutate: test-env
	$(PYTHON) tests/mutate.py run --max-children 2
	$(PYTHON) tests/mutate.py report --min $(MUTATE_MIN)

# The same on a random share of all the mutants (MUTATE_PERCENT, drawn by MUTATE_SEED, each equally likely):
# the score of the sample, and the 95 % interval it gives the whole score, in about an hour.
MUTATE_PERCENT ?= 5
MUTATE_SEED ?= 0
mutate-sample: test-env
	$(PYTHON) tests/mutate.py sample --percent $(MUTATE_PERCENT) --seed $(MUTATE_SEED)
	$(PYTHON) tests/mutate.py report --sample
