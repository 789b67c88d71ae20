"""The support console (server-rendered pages for engineers, operators and customers).

Kept empty on purpose: importing a light module of the console (its phrase books, `i18n`) must not
import the whole web front (FastAPI, Jinja2, every page): the CLI reads the phrase books, and each
CLI start paid for the pages it never serves. The front is `interfaces.console.front.install_console`.
"""
