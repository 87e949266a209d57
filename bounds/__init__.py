"""Symbolic bounds of the large-stepsize GD theory (imported as ``eoscheck.bounds``)."""
