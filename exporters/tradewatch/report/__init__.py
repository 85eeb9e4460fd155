"""Scheduled desk reports: query Prometheus over a period, render HTML + JSON with charts, e-mail it.

Pipeline: :mod:`query` (Prometheus HTTP API) -> :mod:`sections` (numbers, intervals, gaps) ->
:mod:`charts` (matplotlib PNGs) -> :mod:`render` (HTML with inline PNGs, JSON) -> :mod:`mailer`
(SMTP, inline images by Content-ID). :mod:`schedule` runs reports at their configured times.
"""
