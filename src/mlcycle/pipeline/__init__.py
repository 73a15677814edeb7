"""The training pipeline: KFP v2 components, their wiring, and how to run them.

`steps` holds the plain functions the components call (no KFP import, so each component's
process pays only for what its step needs); `components` and `definition` need KFP.
"""
