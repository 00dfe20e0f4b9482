# One command each: `make book` builds the book from a fresh clone, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book keeps its download cache inside the project (the library's default is ~/qmrigenes-data).
export QMRIGENES_DATA ?= $(CURDIR)/data/cache

.PHONY: venv data mathjax verify-data test book book-student pdf lab bench lock clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $(STAMP)

venv: $(STAMP)

data: $(STAMP)  ## fetch and verify every registered data file
	$(BIN)/qmrigenes fetch

mathjax:  ## pinned MathJax 3 (npm package, sha256-checked) for offline formulas; idempotent
	bash .ci/fetch_mathjax.sh

verify-data: $(STAMP)  ## check the cache against the registry, fetch nothing
	$(BIN)/qmrigenes fetch --verify-only

test: $(STAMP)
	$(BIN)/python -m pytest -q

# MPLBACKEND=Agg in the environment would make figures vanish silently: unset it.
book: data mathjax
	rm -rf _build/html _build/.doctrees
	env -u MPLBACKEND $(BIN)/jupyter-book build . -W -n --keep-going
	@test -f _build/html/index.html && echo "book: _build/html/index.html"

# Student edition: the same book with every exercise solution removed (chapters/qmribook/student.py),
# built from a generated copy of _config.yml into its own folder; then checked for solution text.
STUDENT := _build/student
# (`mathjax` is a prerequisite only where that target exists: the offline-math branch)
MATHJAX_DEP := $(if $(wildcard .ci/fetch_mathjax.sh),mathjax)
book-student: data $(MATHJAX_DEP)
	rm -rf $(STUDENT)
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student config _config.yml $(STUDENT)/_config.yml
	env -u MPLBACKEND PYTHONPATH=$(CURDIR)/chapters$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/jupyter-book build . \
	    --config $(STUDENT)/_config.yml --path-output $(STUDENT) -W -n --keep-going
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student check chapters $(STUDENT)/_build/html
	@echo "book-student: $(STUDENT)/_build/html/index.html"

# The whole book as one PDF: a single-page HTML build printed by headless Chromium (Debian's
# `chromium` package, driven by Playwright) with the network blocked: A4, page numbers, outline,
# chapters on new pages, long tables in an appendix, links inside the PDF. .ci/print_pdf.py fails
# (and keeps no PDF) on any clipped table or figure, any file:// or local link, or raw TeX.
PDF := _build/pdf/qmri-gene-expression-book.pdf
pdf: data $(MATHJAX_DEP)
	@command -v chromium >/dev/null || { echo "make pdf needs Chromium: apt-get install chromium"; exit 1; }
	rm -rf _build/singlehtml _build/pdf
	env -u MPLBACKEND $(BIN)/jupyter-book build . --builder singlehtml -n --keep-going
	$(BIN)/python .ci/print_pdf.py --html _build/singlehtml --pdf $(PDF)

# JupyterLab in the project's environment; open a chapter's .md with "Open With > Jupytext Notebook".
LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=chapters $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

bench: $(STAMP)  ## benchmarks, run on demand
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock: $(STAMP)
	{ echo '# Full pinned environment (pip freeze), used as constraints by the Makefile. Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^qmrigenes'; } > constraints.txt

clean:
	rm -rf _build
