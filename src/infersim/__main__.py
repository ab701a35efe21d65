"""`python -m infersim` entry point."""

from infersim.cli.app import main

main()
