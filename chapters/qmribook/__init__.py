"""The book's study code: what the chapters of *Quantitative MRI and brain gene expression* run.

It depends on the library :mod:`qmrigenes` (data, surfaces, AHBA, MPM/QSM physics,
statistics, plotting); the library never imports it.

* :mod:`qmribook.report` - :class:`~qmribook.report.Report`, the one shape a chapter
  receives (``numbers``, ``tables``, ``figures``), and :func:`~qmribook.report.show`,
  which glues a report under the chapter's prefix;
* :mod:`qmribook.ch1`, :mod:`qmribook.ch2`, :mod:`qmribook.ch3` - the chapters' studies;
* :mod:`qmribook.pages` - the book's own tables (published numbers, reproduction
  status), build information and table formatting;
* :mod:`qmribook.sphinxext` - numbers glued tables as tables;
* :mod:`qmribook.paths` - every folder the book reaches, from the repository root;
* :mod:`qmribook.notebooks` - runs a chapter outside Sphinx and reads what it shows.

Importing the package points ``$QMRIGENES_DATA`` at ``<repository>/data/cache`` when it is unset
and that folder exists (:func:`qmribook.paths.use_book_data`), so a plain Jupyter started in the
repository finds the data ``make data`` fetched.
"""
from .paths import use_book_data as _use_book_data

_use_book_data()
