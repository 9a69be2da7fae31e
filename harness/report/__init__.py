"""The HTML conformance report, results.json, JUnit XML and the run history.

`plugin` collects per-test records during a pytest run; `model` turns them into JSON-ready
test entries; `history` triages failures across runs; `html`/`svg`/`junit` render; `writer`
writes files atomically; `cli` rebuilds the page from results.json.
"""
