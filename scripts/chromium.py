"""How this project starts Debian's Chromium headless: the browser tests (tests/ui) and the
project report's PDF (scripts/build_report.py). Importable from tests (pytest's pythonpath)."""

EXECUTABLE = "/usr/bin/chromium"
# Without the flags after --no-sandbox, Chromium hangs on a closed network (GPU, update and
# sync probes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
