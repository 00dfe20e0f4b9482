# One command each: `make book` builds the book from a fresh clone, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book keeps its download cache inside the project (the library's default is ~/qmrigenes-data).
export QMRIGENES_DATA ?= $(CURDIR)/data/cache

.PHONY: venv data mathjax verify-data test book book-student student-notebooks pdf lab bench lock clean

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
book-student: data $(MATHJAX_DEP) student-notebooks
	rm -rf $(STUDENT)
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student config _config.yml $(STUDENT)/_config.yml
	env -u MPLBACKEND PYTHONPATH=$(CURDIR)/chapters$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/jupyter-book build . \
	    --config $(STUDENT)/_config.yml --path-output $(STUDENT) -W -n --keep-going
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student check chapters $(STUDENT)/_build/html
	@echo "book-student: $(STUDENT)/_build/html/index.html"

# Runnable student notebooks (no solutions, a self-check per computational exercise) and the answer
# key (the full chapters), written outside chapters/ (a .ipynb beside a chapter's .md breaks the build).
STUDENT_NB := _build/student-notebooks
student-notebooks: $(STAMP)
	rm -rf $(STUDENT_NB)
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student notebooks chapters $(STUDENT_NB)
	@echo "student-notebooks: $(STUDENT_NB)/notebooks (students), $(STUDENT_NB)/answers (answer key)"

# The whole book as one PDF: a single-page HTML build printed by headless Chromium (Debian's
# `chromium` package), with the network blocked; MathJax must be served from the built book.
# The single page is written as chapters/<root>.html with links relative to the build root
# (index.html only redirects to it), so a copy placed at the root is printed.
CHROMIUM ?= chromium
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--host-resolver-rules="MAP * ~NOTFOUND"
PDF := _build/pdf/qmri-gene-expression-book.pdf
pdf: data $(MATHJAX_DEP)
	@command -v $(CHROMIUM) >/dev/null || { echo "make pdf needs Chromium: apt-get install chromium"; exit 1; }
	rm -rf _build/singlehtml _build/pdf
	env -u MPLBACKEND $(BIN)/jupyter-book build . --builder singlehtml -n --keep-going
	mkdir -p _build/pdf
	root=$$(sed -n 's/.*url=\([^" ]*\)".*/\1/p' _build/singlehtml/index.html); \
	  cp _build/singlehtml/$${root:-index.html} _build/singlehtml/book.html
	$(CHROMIUM) $(CHROMIUM_FLAGS) --user-data-dir=$(CURDIR)/_build/pdf/.chromium \
	    --virtual-time-budget=120000 --run-all-compositor-stages-before-draw --no-pdf-header-footer \
	    --print-to-pdf=$(CURDIR)/$(PDF) file://$(CURDIR)/_build/singlehtml/book.html 2>/dev/null
	rm -rf _build/pdf/.chromium
	@test -s $(PDF) || { echo "pdf: Chromium wrote no PDF"; exit 1; }
	@if command -v pdftotext >/dev/null; then \
	  if pdftotext $(PDF) - | grep -qE '\\\(|\\\[|\\frac|\\mathrm'; then \
	    echo "pdf: raw TeX in $(PDF): MathJax did not load offline (mathjax_path must point into the built book)"; exit 1; fi; \
	  echo "pdf: $$(pdfinfo $(PDF) | grep Pages), no raw TeX"; fi
	@echo "pdf: $(PDF)"

# JupyterLab in the project's environment; open a chapter's .md with "Open With > Jupytext Notebook".
# LAB_DIR=_build/student-notebooks/notebooks opens the student notebooks (make student-notebooks).
LAB_ARGS ?=
LAB_DIR ?= chapters
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

bench: $(STAMP)  ## benchmarks, run on demand
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock: $(STAMP)
	{ echo '# Full pinned environment (pip freeze), used as constraints by the Makefile. Regenerate with `make lock`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^qmrigenes'; } > constraints.txt

clean:
	rm -rf _build
