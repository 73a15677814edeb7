"""Data stages as pure functions over DataFrames: ingest, validate, clean, split.

Nothing here imports KFP, FastAPI or Flask.
"""
