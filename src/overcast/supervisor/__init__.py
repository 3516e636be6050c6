"""The process supervisor of ``overcast start``: one shared listening socket, N forked instance processes."""

from overcast.supervisor.process import InstanceHandle
from overcast.supervisor.supervisor import STARTUP_FAILED, run

__all__ = ["STARTUP_FAILED", "InstanceHandle", "run"]
