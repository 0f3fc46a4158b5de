"""Reports read from a finished run folder: the text summary, comparison and report.html.

``format`` (number formatting, a leaf any layer may use), ``summary`` (``SUMMARY.txt`` and
the command read-outs), ``headlines`` (the three headline numbers), ``comparison``
(Bayesian fit against the baselines), ``selection`` (with and without the selection
correction), ``html`` with ``sections`` and ``results`` (``report.html``). Nothing is
imported here.
"""
