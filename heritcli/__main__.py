"""``python -m heritcli`` runs the ``herit`` command."""

from heritcli.cli.main import main

main()
