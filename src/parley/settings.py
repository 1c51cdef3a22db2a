"""Settings from the environment (PARLEY_*), as shared/DESIGN.md fixes them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` -> ("127.0.0.1", 8080); ``"[::1]:80"`` works; a bare host takes the default port."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    return host, int(port)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/parley.db"
    # PostgreSQL connections one process keeps open (a third more are opened at peaks, then closed again).
    database_pool: int = Field(default=30, ge=1)
    http: str = "127.0.0.1:8080"
    smtp: str = "127.0.0.1:2525"
    # The SMPP server for applications (issue 13 §4), host:port; off when empty (README suggests 127.0.0.1:2777).
    smpp: str = ""
    country: str = "US"
    timezone: str = "UTC"
    # Password hashing cost (argon2id): argon2-cffi's defaults, RFC 9106's low-memory profile. The test suite
    # lowers them (tests/conftest.py), as Django's suites swap in a fast hasher; never lower them in production.
    # End-to-end tests and drills only: a file holding seconds to add to the clock (`parley.clock.OffsetClock`).
    clock_offset_file: str = ""
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=64)
    # Secret for keyed hashes of cached credentials; random per process when unset.
    secret: str = Field(default="", repr=False)
    log_level: str = "info"
    # Dispatcher tuning: how many jobs one claim takes, how many messages may be in flight.
    claim_batch: int = 200
    max_in_flight: int = 2000
    # A claimed job's lease, renewed every fifth of it while in flight: a killed worker's jobs wait this long.
    lease_seconds: float = 15.0
    # Retries: first delay, and how long a message may keep failing transiently before it fails.
    retry_base_seconds: float = 2.0
    give_up_hours: float = 24.0
    # How often the scheduler looks for timed actions that came due.
    timer_poll_seconds: float = 1.0
    # Parts of a concatenated inbound SMS whose other parts never come are stored, marked incomplete, after this.
    concat_expiry_hours: float = 24.0
    # Request body limits in bytes (413 past them): JSON and forms, inbound webhooks, CSV uploads.
    max_body_bytes: int = 1024 * 1024
    max_webhook_bytes: int = 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    # Who may read /metrics besides loopback: a bearer token, and addresses or CIDR ranges (comma-separated).
    metrics_token: str = Field(default="", repr=False)
    metrics_allow: str = ""
    # The API documentation (/api/v1/doc, /api/v1/openapi.json) is for admins; true opens it to everyone.
    public_docs: bool = False
    # The address carriers reach Parley at (e.g. https://sms.example.com): status callback and media URLs are
    # built from it, whatever Host a request carried. Empty: http://<PARLEY_HTTP>.
    public_url: str = ""
    # Media: where files are kept (SQLite deployments; on PostgreSQL they go into the database so that every
    # host sees them), how long signed URLs handed to carriers stay valid, the largest upload.
    media_dir: str = "./var/media"
    media_url_days: float = 7.0
    max_media_bytes: int = 100 * 1024 * 1024

    @property
    def http_host_port(self) -> tuple[str, int]:
        return split_host_port(self.http, 8080)

    @property
    def public_base(self) -> str:
        """`public_url` without its trailing slash, or the local HTTP address when it is not set."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = self.http_host_port
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
