"""How payer failures are told apart: each class says what the caller does next."""

from __future__ import annotations

from engine.errors import OperatorError


class PayerError(OperatorError):
    """Base: a payer call did not produce an answer."""


class PayerConfigError(PayerError):
    """Credentials or request shape are wrong: no retry; the job fails with this message."""


class CallFailed(PayerError):
    """One call got no answer claimsops can use; the rows it was for get `Error` with this
    message and the job goes on."""


class PayerUnavailable(CallFailed):
    """5xx, timeouts, unreadable answers or throttling outlasted the retry budget."""


class PayerOutage(PayerUnavailable):
    """The payer answered none of the job's calls for CLAIMSOPS_PAYER_OUTAGE_SECONDS: the job
    stops calling it, marks the rows left `Error` and fails naming `claimsops retry N --errors`."""


class RequestNotSendable(CallFailed):
    """A value of the request (a header) cannot go on the wire; sending it again cannot help."""


class BadAnswer(PayerError):
    """A 200 answer the contract cannot read (a web page, JSON of another shape): the client
    retries it like a 5xx."""


class WindowTooWide(PayerError):
    """LCLM_PS_112: the payer's widest window is narrower than asked."""

    def __init__(self, days: int, stated_days: int | None) -> None:
        super().__init__(f"window of {days} days is wider than the payer allows")
        self.days, self.stated_days = days, stated_days


class TooManyResults(PayerError):
    """LCLM_PS_306: more than the payer's cap match; split the window."""


class OutsideLookback(PayerError):
    """LCLM_PS_107: the window starts before the payer's look-back."""


class PageTokenExpired(PayerError):
    """LCLM_PS_203: restart the window from its first page."""


class PatientOutsideWindow(PayerError):
    """LCLM_PS_307: the patient has claims, but outside this window."""


class InquiryRefused(PayerError):
    """Claim inquiry answered 200 with `errors` and no data (e.g. product not supported)."""


def root_cause(exc: BaseException) -> BaseException:
    """The first real error inside the planner's task groups: a PayerConfigError when any task
    met one (it says what the operator must fix), else the first error."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        config = [e for e in exc.exceptions if isinstance(root_cause(e), PayerConfigError)]
        exc = config[0] if config else exc.exceptions[0]
    return exc
