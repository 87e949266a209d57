"""Compatibility name of :mod:`eoscheck.properties.theorem6` (Theorem 6's claims); remove once
``tests/test_networks.py`` imports ``eoscheck.properties.theorem6``."""

from .theorem6 import ntk_instance

__all__ = ["ntk_instance"]
