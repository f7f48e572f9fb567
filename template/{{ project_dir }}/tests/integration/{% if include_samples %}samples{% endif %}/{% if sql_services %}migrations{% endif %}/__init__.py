"""The samples' Alembic history and its checks: how your migrations are tested.

alembic.ini, env.py and versions/ are a small history for the sample models;
test_sample_migrations.py checks it on real, empty databases.
"""
