"""The plumbing behind the integration fixtures: providers, databases, isolation.

Template-owned: `copier update` improves these modules. Put your own fixtures in
`tests/integration/conftest.py` or next to your tests instead of editing them.
"""
