"""`python -m kcistage`: the same program as the `kcistage` command."""

from kcistage.cli.main import main

main()
