"""Sub-commands of the ``eoscheck`` command line, one module each (see :mod:`eoscheck.cli`)."""
