"""The training pipeline: its steps declared once, their KFP v2 components and wiring, and
how to run them.

`steps` holds the plain functions the components call and `contract` declares each step's
inputs and outputs (neither imports KFP, so each component's process pays only for what its
step needs); `components` and `definition` need KFP.
"""
