"""The CLI's defaults, apart so that the commands and the parser share them."""

from typing import Final

__all__ = ["DEFAULT_WHAT"]

#: ``--what`` when not given: the daily fleet job.
DEFAULT_WHAT: Final = ("overview", "energy", "inverter_telemetry")
