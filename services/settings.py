"""Service settings from ``COUPE_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tiling.limits import DEFAULT_MAX_SLIDE_PIXELS, DEFAULT_MAX_SLIDE_TILES, SlideLimits
from worklist.db import default_database_url
from worklist.geojson import (
    DEFAULT_ANNOTATION_CLASSES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PER_SLIDE,
    DEFAULT_MAX_VERTICES,
    AnnotationRules,
)
from worklist.passwords import DEFAULT_MIN_LENGTH, PasswordPolicy


class Settings(BaseSettings):
    """Everything the backoffice needs to start; every field has a working default.

    ``COUPE_DATABASE_URL``: SQLAlchemy URL (default: a SQLite file in the data directory).
    ``COUPE_DATA_DIR``: pyramids, scanner import folders, caches (default ``./.coupe``).
    ``COUPE_DASK_SCHEDULER``: dask.distributed address for tiling jobs (default: local).
    ``COUPE_SECRET_KEY``: derives the CSRF tokens of cookie sessions (default: a random key
    kept in the data dir).
    ``COUPE_SESSION_IDLE_MINUTES``: a session unused this long ends (default 30).
    ``COUPE_SESSION_MAX_HOURS``: a session ends this long after sign-in, used or not (default 10).
    ``COUPE_SIGN_IN_FAILURES_PER_ACCOUNT`` / ``COUPE_SIGN_IN_FAILURES_PER_ADDRESS``: failed
    sign-ins per account name (default 5) and per client address (default 20) within
    ``COUPE_SIGN_IN_FAILURE_WINDOW_MINUTES`` (default 15) before sign-in answers 429.
    ``COUPE_DATABASE_POOL_SIZE``: database connections each API process keeps open (default
    20), and as many more it may open for a burst; a request beyond those waits for one. A
    pool smaller than the requests a process serves at once makes it open and close a
    connection per request (on PostgreSQL a new server process each time).
    ``COUPE_PASSWORD_HASH_WORKERS``: threads that hash passwords, per process (default 2).
    ``COUPE_PASSWORD_MIN_LENGTH``: the fewest characters a new password may have (default 12);
    it must also pass the strength check (``worklist.passwords``).
    ``COUPE_TILE_CACHE_MB``: memory for rendered tiles (default 256).
    ``COUPE_TILE_CACHE_URL``: a Redis URL (``redis://host:6379/0``) for a tile cache that
    several API processes share: a tile rendered on the fly by one is not rendered again by
    another (default: none, each process keeps its own).
    ``COUPE_METRICS_TOKEN``: the bearer token Prometheus sends to read ``/metrics``; without
    one, ``/metrics`` answers only requests from this machine's loopback (default: none).
    ``COUPE_BENCHMARK_RESULTS_DIR``: where the Benchmarks page reads the latest results
    (default: the project's ``benchmarks/results``).
    ``COUPE_IMPORT_POLL_S``: how often the scanner folders are looked at, and how long a new
    file must stay unchanged before it is imported (default 5).
    ``COUPE_TILING_PARALLEL_JOBS``: how many tiling jobs run at once on the dask cluster
    (default 1: the local cluster's two worker processes share the machine's cores with the
    API; on a cluster, about one per worker).
    ``COUPE_JOB_POLL_S``: how often the tiling job runner looks for queued jobs that nobody
    announced, e.g. from another server process (default 2).
    ``COUPE_MAX_UPLOAD_BYTES``: the largest slide file an upload accepts (default 20 GiB).
    ``COUPE_PYRAMID_QUOTA_GB_PER_DEPARTMENT``: a department whose pyramids take this many GB
    (10^9 bytes) gets no new slides, uploaded (507) or imported (default: no quota).
    ``COUPE_MAX_SLIDE_PIXELS`` / ``COUPE_MAX_SLIDE_TILES``: the most pixels (level 0) and planned
    Deep Zoom tiles a slide may have; larger ones are refused when an upload or import is
    checked, and by the tiling job (defaults 40,000,000,000 px = 200,000 x 200,000, and
    1,000,000 tiles: ``tiling.limits``).
    ``COUPE_MAX_JSON_BYTES``: the largest request body of every other route, refused with 413
    before it is parsed or the sender authenticated (default 1 MiB).
    ``COUPE_BREAK_GLASS_MINUTES``: how long a break-the-glass grant lasts (default 240: long
    enough to deal with an emergency, short enough to need a new reason tomorrow).
    ``COUPE_ANNOTATION_MAX_VERTICES`` / ``COUPE_ANNOTATION_MAX_BYTES``: the most positions and
    bytes of GeoJSON one annotation may have (defaults 25,000 and 512 KiB);
    ``COUPE_ANNOTATION_MAX_PER_SLIDE``: the most annotations a slide may have (default 2,000);
    ``COUPE_ANNOTATION_CLASSES``: the classes an annotation may carry, comma-separated or a
    JSON list (default tumour, stroma, necrosis, inflammation, normal, other).
    ``COUPE_CAPACITY_NORM_FILE``: the capacity reports' norm (budgeted FTE per department and
    tumour group, targets) as TOML (default: the packaged ``worklist/data/default_norm.toml``;
    ``docs/capacity.md``).
    ``COUPE_WITHDRAWN_SLIDE_RETENTION_DAYS``: a withdrawn slide's file and pyramid stay on disk
    this many days; then ``coupe slides purge-withdrawn`` deletes them (default 90).
    ``COUPE_RUN_BACKGROUND_WORKERS``: run the job runner and the folder import (default true).
    ``COUPE_BEHIND_TLS``: the service is reached over HTTPS only (a TLS proxy in front): answers
    carry ``Strict-Transport-Security`` (default false: the demo runs on plain loopback HTTP).
    ``COUPE_TRUSTED_HOSTS``: the host names the service answers to, comma-separated or a JSON
    list; ``*.example.org`` matches subdomains; any other ``Host`` is answered 400 (default
    ``localhost,127.0.0.1,::1,testserver``).
    """

    # Errors never echo a value: the URLs may hold passwords (database, tile cache).
    model_config = SettingsConfigDict(
        env_prefix="COUPE_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Path(".coupe")
    database_url: str | None = None
    dask_scheduler: str | None = None
    secret_key: SecretStr | None = None
    session_idle_minutes: float = Field(default=30, gt=0)
    session_max_hours: float = Field(default=10, gt=0)
    sign_in_failures_per_account: int = Field(default=5, ge=1)
    sign_in_failures_per_address: int = Field(default=20, ge=1)
    sign_in_failure_window_minutes: float = Field(default=15, gt=0)
    database_pool_size: int = Field(default=20, ge=1)
    password_hash_workers: int = Field(default=2, ge=1)
    password_min_length: int = Field(default=DEFAULT_MIN_LENGTH, ge=8)
    tile_cache_mb: int = 256
    tile_cache_url: str | None = None
    metrics_token: SecretStr | None = None
    benchmark_results_dir: Path | None = None
    import_poll_s: float = 5.0
    job_poll_s: float = 2.0
    tiling_parallel_jobs: int = Field(default=1, ge=1)
    max_upload_bytes: int = 20 * 1024**3
    pyramid_quota_gb_per_department: float | None = Field(default=None, ge=0)
    max_slide_pixels: int | None = Field(default=DEFAULT_MAX_SLIDE_PIXELS, ge=1)
    max_slide_tiles: int | None = Field(default=DEFAULT_MAX_SLIDE_TILES, ge=1)
    max_json_bytes: int = Field(default=1024**2, ge=1)
    break_glass_minutes: int = 4 * 60
    annotation_max_vertices: int = Field(default=DEFAULT_MAX_VERTICES, ge=1)
    annotation_max_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=64)
    annotation_max_per_slide: int = Field(default=DEFAULT_MAX_PER_SLIDE, ge=1)
    annotation_classes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ANNOTATION_CLASSES
    withdrawn_slide_retention_days: int = Field(default=90, ge=1)
    capacity_norm_file: Path | None = None
    run_background_workers: bool = True
    behind_tls: bool = False
    trusted_hosts: Annotated[tuple[str, ...], NoDecode] = (
        "localhost",
        "127.0.0.1",
        "::1",
        "testserver",
    )

    @field_validator("trusted_hosts", "annotation_classes", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        """``COUPE_TRUSTED_HOSTS`` (or ``COUPE_ANNOTATION_CLASSES``) as ``a,b`` or a JSON list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return tuple(host.strip() for host in text.split(",") if host.strip())
        return value

    @field_validator("capacity_norm_file")
    @classmethod
    def _norm_file_reads(cls, value: Path | None) -> Path | None:
        """A norm file that does not read or parse stops the service at start, not a report."""
        if value is not None:
            from worklist.capacity.norm import NormFileError, load_norm

            try:
                load_norm(value)
            except NormFileError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("tile_cache_url")
    @classmethod
    def _tile_cache_url_is_redis(cls, value: str | None) -> str | None:
        """A tile cache URL not redis://, rediss:// or unix:// stops the service at start."""
        if value is not None:
            from services.shared_tile_cache import check_tile_cache_url

            return check_tile_cache_url(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file."""
        return self.database_url or default_database_url(self.data_dir.resolve())

    @property
    def slide_limits(self) -> SlideLimits:
        """The caps on a slide's pixels and tiles, for probing and tiling slides."""
        return SlideLimits(max_pixels=self.max_slide_pixels, max_tiles=self.max_slide_tiles)

    @property
    def password_policy(self) -> PasswordPolicy:
        """What a new password must be (length, strength)."""
        return PasswordPolicy(min_length=self.password_min_length)

    @property
    def annotation_rules(self) -> AnnotationRules:
        """The limits on annotations and the classes they may carry."""
        return AnnotationRules(
            max_vertices=self.annotation_max_vertices,
            max_bytes=self.annotation_max_bytes,
            max_per_slide=self.annotation_max_per_slide,
            classes=self.annotation_classes,
        )

    @property
    def pyramid_dir(self) -> Path:
        """Where pre-built pyramids live: ``DATA_DIR/pyramids/<slide id>/``."""
        return self.data_dir.resolve() / "pyramids"

    @property
    def slide_dir(self) -> Path:
        """Where uploaded slide files are kept."""
        return self.data_dir.resolve() / "slides"

    @property
    def import_dir(self) -> Path:
        """Scanner drop folders, one per department: ``DATA_DIR/import/<DEPT>/``."""
        return self.data_dir.resolve() / "import"

    def resolved_secret_key(self) -> str:
        """The signing key; without ``COUPE_SECRET_KEY``, one kept in the data dir (0600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir.resolve() / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            partial = key_file.with_name(f".secret_key.{os.getpid()}")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                # Publish complete or not at all; if another process won, use its key.
                os.link(partial, key_file)
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        return key_file.read_text().strip()
