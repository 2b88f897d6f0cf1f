"""Presentation shared by the CLI and the web: feed items, report JSON and campaign CSV.

Both `mailbeacon.cli` and `mailbeacon.web` import these modules, so the same report
reads the same in a terminal, a JSON answer and a download; nothing here serves or parses
requests (an import-linter contract keeps the CLI out of the web package).
"""
