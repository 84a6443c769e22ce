"""The CLI's defaults and exit statuses, apart so that the commands and the parser share them."""

from typing import Final, NamedTuple

__all__ = [
    "API",
    "DEFAULT_DB",
    "DEFAULT_WHAT",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_STATUSES",
    "EXIT_USAGE",
    "SIM_DEMO",
    "SIM_POLL",
    "SYNC_WHAT",
    "Defaults",
    "Terminated",
]

#: ``--what`` when not given: the daily fleet job.
DEFAULT_WHAT: Final = ("overview", "energy", "inverter_telemetry")

#: ``sync --db`` when not given: an embedded SQLite file in the working directory.
DEFAULT_DB: Final = "sqlite:///solaredge.db"

#: Every planned item succeeded (or a clean stop on SIGTERM).
EXIT_OK: Final = 0
#: Some items failed or were not attempted (quota ran out, sites could not be planned).
EXIT_INCOMPLETE: Final = 1
#: A usage error: a bad flag, an unusable or locked output, a damaged state file.
EXIT_USAGE: Final = 2
#: Refused before spending: the credits ran out before the first data call.
EXIT_REFUSED: Final = 3
#: Interrupted by SIGINT (Ctrl-C); what was fetched is committed.
EXIT_INTERRUPTED: Final = 130

#: The exit statuses as ``--help`` and the README state them.
EXIT_STATUSES: Final = (
    "exit status:\n"
    "  0    done: every item succeeded (also a clean stop on SIGTERM)\n"
    "  1    some items failed or were not attempted\n"
    "  2    usage error (bad flag, unusable or locked output, damaged state file)\n"
    "  3    refused before spending (the monthly credits ran out before any data call)\n"
    "  130  interrupted (SIGINT); what was fetched is committed"
)

#: ``sync --what`` when not given: the site series a database is kept current with.
SYNC_WHAT: Final = ("energy", "power")


class Defaults(NamedTuple):
    """What a command connects with where a flag is not given.

    Attributes:
        requests_per_minute: Calls per minute: the client's limit (``--requests-per-minute``)
            and, simulated, the limit the simulator enforces (``--sim-requests-per-minute``,
            0 none).
        monthly_credits: Credits a billing cycle allows (0 unlimited).
        concurrency: Requests in flight at most (``--concurrency``).
        sites: Simulated sites (``--sim-sites``).
        latency: Simulated latency, ``MEAN[±JITTER]`` milliseconds (``--sim-latency-ms``).
    """

    requests_per_minute: int
    monthly_credits: int
    concurrency: int
    sites: int = 0
    latency: str = "0"


#: A real server: the free tier (10 calls a minute, 2,000 credits a month), 3 in flight.
API: Final = Defaults(requests_per_minute=10, monthly_credits=2000, concurrency=3)
#: ``sync``, ``sweep`` and ``sites`` with ``--simulate``: a few hundred sites, a generous
#: enforced limit, some latency.
SIM_DEMO: Final = Defaults(
    requests_per_minute=12_000, monthly_credits=100_000, concurrency=8, sites=300, latency="30±10"
)
#: ``poll --simulate``: ten sites at the free tier's limits.
SIM_POLL: Final = Defaults(
    requests_per_minute=10, monthly_credits=2000, concurrency=4, sites=10, latency="30±10"
)


class Terminated(BaseException):
    """Raised by the CLI's SIGTERM handler while no graceful stop is in place."""
