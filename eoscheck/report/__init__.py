"""The bound-vs-empirics report (``eoscheck report``): one command that reproduces the slides' and the
paper's experiments and puts every bound of the theory next to its measurement.

One module per section (:mod:`.descent` §1, :mod:`.figure1` §2, :mod:`.theorem1` §3,
:mod:`.acceleration` §4, :mod:`.losses` §5, :mod:`.ntk` §6, :mod:`.claims` §7, :mod:`.provenance`
§8), the run cache (:mod:`.cache`), the document model and Markdown rendering (:mod:`.document`), the
profiles (:mod:`.config`) and the orchestration (:mod:`.build`).
"""

from .build import ReportResult, build_report

__all__ = ["build_report", "ReportResult"]
