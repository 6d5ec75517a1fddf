"""The ``herit`` command-line interface (click); no numerics live here."""
