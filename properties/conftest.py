"""pytest set-up for the property suite: Hypothesis profiles chosen by ``EOSCHECK_PROFILE``.

``EOSCHECK_PROFILE=ci pytest properties/`` is the CI command (derandomized, no
database, sized to a few minutes on 2 cores); the default is ``dev`` locally and
``ci`` when the ``CI`` environment variable is set; ``thorough`` may run an hour.
"""

from hypothesis import settings

from eoscheck.properties.profiles import current_profile, register_profiles

register_profiles()
settings.load_profile(current_profile())


def pytest_report_header(config):
    return f"eoscheck property profile: {current_profile()} (set EOSCHECK_PROFILE=ci|dev|thorough)"
