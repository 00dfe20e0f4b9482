# One command each: `make book` builds the book from a fresh clone, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book keeps its download cache inside the project (the library's default is ~/qmrigenes-data).
export QMRIGENES_DATA ?= $(CURDIR)/data/cache

.PHONY: venv data verify-data test book bench lock clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $(STAMP)

venv: $(STAMP)

data: $(STAMP)  ## fetch and verify every registered data file
	$(BIN)/qmrigenes fetch

verify-data: $(STAMP)  ## check the cache against the registry, fetch nothing
	$(BIN)/qmrigenes fetch --verify-only

test: $(STAMP)
	$(BIN)/python -m pytest -q

# MPLBACKEND=Agg in the environment would make figures vanish silently: unset it.
book: data
	rm -rf _build/html _build/.doctrees
	env -u MPLBACKEND $(BIN)/jupyter-book build . -W -n --keep-going
	@test -f _build/html/index.html && echo "book: _build/html/index.html"

bench: $(STAMP)  ## benchmarks, run on demand
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock: $(STAMP)
	{ echo '# Full pinned environment (pip freeze), used as constraints by the Makefile. Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^qmrigenes'; } > constraints.txt

clean:
	rm -rf _build
