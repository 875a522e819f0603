"""`python -m langstar` is the `langstar` command."""

from langstar.cli import main

main()
