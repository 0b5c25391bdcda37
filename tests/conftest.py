"""Shared test setup: this file's presence puts ``tests/`` on ``sys.path`` (pytest's prepend
import mode), so test modules in any folder can import the shared helpers here
(``cdp_browser``: headless Chromium through the DevTools protocol)."""
