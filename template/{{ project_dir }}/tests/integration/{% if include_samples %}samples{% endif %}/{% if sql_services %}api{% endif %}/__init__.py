"""The app's own boundaries: its HTTP API in process, and its OpenAPI contract.

app.py is a small FastAPI app standing in for yours; the tests override its database
dependency with the test's isolated sessions, so every request runs against the real
database and leaves nothing behind.
"""
