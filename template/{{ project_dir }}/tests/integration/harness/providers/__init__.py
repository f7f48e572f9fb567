"""Where services come from: one seam, several providers.

Every provider turns a list of services into endpoints (a URL that answers, or the
reason it cannot) and can later release what it started for a run. Fixtures only
ever see endpoints, so a test never knows which provider ran.
"""
