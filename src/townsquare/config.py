"""Settings from TOWNSQUARE_* environment variables or a .env file, with embedded defaults."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a townsquare process; the defaults need nothing installed."""

    model_config = SettingsConfigDict(
        env_prefix="TOWNSQUARE_", env_file=".env", extra="ignore", frozen=False
    )

    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    redis_namespace: str = "townsquare"
    host: str = "127.0.0.1"
    port: int = 8000
    gateway_port: int = 8001

    jwt_secret: str | None = Field(default=None, min_length=32)
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    password_hash_profile: str = Field(default="strong", pattern="^(strong|fast)$")
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_seconds: int = 15 * 60

    max_request_bytes: int = 1024 * 1024
    max_avatar_bytes: int = 5 * 1024 * 1024
    avatar_thumbnail_px: int = 128

    trusted_proxies: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = True
    node_id: int = Field(default_factory=lambda: secrets.randbelow(1024), ge=0, lt=1024)

    @property
    def cluster(self) -> bool:
        """Cluster mode means shared state lives in Redis rather than this process."""
        return self.redis_url is not None

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'townsquare.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def resolved_jwt_secret(self) -> str:
        """The configured signing secret, else one generated on first run and kept on disk."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.keys_dir / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
        return secret

    # gateway (owned by the real-time gateway; see docs/REALTIME.md)
    gateway_host: str | None = None
    gateway_ping_interval_seconds: float = 25.0
    gateway_ping_timeout_seconds: float = 20.0
    gateway_max_payload_bytes: int = 64 * 1024
    gateway_max_buffer_bytes: int = 1024 * 1024
    gateway_history_max_events: int = 500
    gateway_history_max_age_seconds: int = 24 * 3600
    gateway_idle_after_seconds: float = 300.0
    gateway_presence_ttl_seconds: float = 45.0
    gateway_presence_sweep_seconds: float = 5.0
    gateway_max_connections_per_user: int = 10
    gateway_max_rooms_per_connection: int = 100
    gateway_events_per_second: int = 100
    gateway_chat_messages_per_minute: int = 60
    gateway_cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    # the browser client (webapp.py): the gateway URL pages use; None = page host:gateway_port
    web_gateway_url: str | None = None

    # jobs and notifications (owned by notifications; see docs/OPERATIONS.md) ----------------
    # None: jobs run inside `serve` in embedded mode and only in `townsquare worker` in cluster
    # mode; True runs them inside every API process too (small clusters without a worker).
    jobs_run_inline: bool | None = None
    jobs_concurrency: int = Field(default=4, ge=1, le=64)
    jobs_retry_base_seconds: float = Field(default=2.0, gt=0)
    jobs_retry_max_seconds: float = Field(default=600.0, gt=0)
    jobs_poll_seconds: float = Field(default=0.5, gt=0)
    jobs_schedules_enabled: bool = True
    notifications_read_retention_days: int = Field(default=90, ge=1)
    notifications_digest_hour: int = Field(default=8, ge=0, le=23)
    notifications_public_url: str = "http://127.0.0.1:8000"
    push_enabled: bool = True
    push_vapid_subject: str = "mailto:admin@localhost"
    push_ttl_seconds: int = Field(default=24 * 3600, ge=0)
    push_timeout_seconds: float = Field(default=10.0, gt=0)
    push_https_only: bool = True  # plain-http endpoints only for local test push services
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: str = Field(default="starttls", pattern="^(none|starttls|tls)$")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "townsquare <noreply@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def jobs_inline(self) -> bool:
        """Whether this API process consumes the job queue itself."""
        if self.jobs_run_inline is not None:
            return self.jobs_run_inline
        return not self.cluster

    # --- posts, feed and search (owned by the social/posts/feed issue; see docs/FEED.md) ---
    post_max_image_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # videos and GIFs stream to disk under their own limit; the route alone may send this much
    post_max_video_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    post_thumbnail_px: int = Field(default=320, ge=16, le=2048)
    feed_weight_recency: float = Field(default=1.0, ge=0)
    feed_half_life_hours: float = Field(default=12.0, gt=0)
    feed_weight_relationship: float = Field(default=1.0, ge=0)
    feed_weight_engagement: float = Field(default=0.6, ge=0)
    feed_weight_friend: float = Field(default=0.3, ge=0)
    feed_weight_own: float = Field(default=0.1, ge=0)
    feed_window_days: int = Field(default=7, ge=1)
    feed_candidates: int = Field(default=200, ge=20, le=5000)
    feed_snapshot_ttl_seconds: int = Field(default=900, ge=10)
    feed_hide_reported_threshold: int = Field(default=3, ge=1)
    feed_like_aggregate_seconds: float = Field(default=2.0, ge=0)
    search_rank_candidates: int = Field(default=5000, ge=100, le=100_000)
    search_rank_window: int = Field(default=1000, ge=20, le=10_000)
    search_recency_weight: float = Field(default=0.25, ge=0)
    search_recency_half_life_days: float = Field(default=30.0, gt=0)
    search_snapshot_ttl_seconds: int = Field(default=900, ge=10)

    # --- chat (owned by the chat issue; see docs/API.md "Chat") ---
    chat_typing_ttl_seconds: float = Field(default=10.0, gt=0, le=60)
    chat_typing_max_room_size: int = Field(default=50, ge=0)
    chat_notify_delay_seconds: float = Field(default=30.0, ge=0)
    chat_notify_max_room_size: int = Field(default=20, ge=1)
