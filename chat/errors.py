"""How sending an answer to a chat platform can fail, whatever the platform."""


class PlatformUnavailable(ConnectionError):
    """The platform could not be reached or asked to try later: the job is retried (a
    `ConnectionError`, which every Seams job retries with backoff)."""


class PlatformRefused(Exception):
    """The platform refused the answer for a reason retrying will not change (the reply
    address expired, the token is wrong): recorded, not retried."""
