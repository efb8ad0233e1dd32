"""`python -m docketwatch`: the same command line as `docketwatch`."""

from docketwatch.cli import main

main()
