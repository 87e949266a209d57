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


def _claim_id(nodeid: str) -> str | None:
    head, _, rest = nodeid.partition("test_claims.py::test_claim_is_not_falsified[")
    return rest[:-1] if rest else None


def pytest_runtest_logreport(report):
    """One line per claim (issue 18): the property run says which claim it checked and how it ended,
    so a long `pytest` run is never silent for minutes behind a row of dots."""
    claim = _claim_id(report.nodeid)
    if claim is None or report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    tr = pytest_config_holder.get("config")
    tr = tr.pluginmanager.get_plugin("terminalreporter") if tr is not None else None
    if tr is None or tr.verbosity > 0:
        return
    outcome = "skipped (see the summary)" if report.skipped else report.outcome
    tr.write_line(f" claim {claim}: {outcome} in {report.duration:.1f} s")


pytest_config_holder: dict = {}


def pytest_configure(config):
    pytest_config_holder["config"] = config
