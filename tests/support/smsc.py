"""The SMSC simulator lives in the package (users run it too); tests import it from here."""

from parley.testing.smsc import ReceivedSubmit, SmscSimulator

__all__ = ["ReceivedSubmit", "SmscSimulator"]
