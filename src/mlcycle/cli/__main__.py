"""`python -m mlcycle.cli`: what the tests and `mlcycle up`'s child processes start."""

from mlcycle.cli import main

main()
