#!/bin/sh
# Regenerate the README's screenshots (docs/*.png) against the demo study in chromium (Playwright), with the
# overlap check of tests/browser/test_docs_screenshots.py. Run from the repository root.
set -e
ASSB_DOCS_SCREENSHOTS=1 exec .venv/bin/python -m pytest tests/browser/test_docs_screenshots.py -q -p no:cacheprovider "$@"
