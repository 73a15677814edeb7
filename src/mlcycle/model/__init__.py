"""Model stages as pure functions: train, evaluate, gate, and the registry.

Nothing here imports KFP, FastAPI or Flask.
"""
