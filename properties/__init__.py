"""Hypothesis strategies and theorem checks (imported as ``eoscheck.properties``)."""
