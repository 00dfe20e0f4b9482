"""The book's study code: what the chapters of *Quantitative MRI and brain gene expression* run.

It depends on the library :mod:`qmrigenes` (data, surfaces, AHBA, MPM/QSM physics,
statistics, plotting); the library never imports it.

* :mod:`qmribook.report` - :class:`~qmribook.report.Report`, the one shape a chapter
  receives (``numbers``, ``tables``, ``figures``), and :func:`~qmribook.report.show`,
  which glues a report under the chapter's prefix;
* :mod:`qmribook.ch1`, :mod:`qmribook.ch2`, :mod:`qmribook.ch3` - the chapters' studies;
* :mod:`qmribook.pages` - the book's own tables (published numbers, reproduction
  status), build information and table formatting;
* :mod:`qmribook.sphinxext` - numbers glued tables as tables.
"""
