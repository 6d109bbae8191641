"""SQLAlchemy 2 models: the shared database is the source of truth for every process."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.schema import Table

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


Money = Numeric(14, 2, asdecimal=True)
# Large id columns: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    strategy: Mapped[str] = mapped_column(String(16), default="auto")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    tin: Mapped[str] = mapped_column(String(16), default="")
    payer_id: Mapped[str] = mapped_column(String(16), default="87726")
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_from: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(64))
    cancel_latency_ms: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    found_rows: Mapped[int] = mapped_column(Integer, default=0)
    not_found_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_rows: Mapped[int] = mapped_column(Integer, default=0)
    invalid_rows: Mapped[int] = mapped_column(Integer, default=0)
    payer_calls: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    extra_columns: Mapped[list] = mapped_column(JSON, default=list)
    history: Mapped[list] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="upload", server_default="upload")  # | followup


class JobRow(Base):
    __tablename__ = "job_rows"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(64), default="")
    first_name: Mapped[str] = mapped_column(String(128), default="")
    last_name: Mapped[str] = mapped_column(String(128), default="")
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    subscriber_id: Mapped[str] = mapped_column(String(64), default="")
    first_service_date: Mapped[date | None] = mapped_column(Date)
    last_service_date: Mapped[date | None] = mapped_column(Date)
    tin: Mapped[str] = mapped_column(String(16), default="")
    payer_id: Mapped[str] = mapped_column(String(16), default="")
    patient_account_number: Mapped[str] = mapped_column(String(64), default="")
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    # Result; status NULL = not looked up yet.
    status: Mapped[str | None] = mapped_column(String(32))
    status_class: Mapped[str | None] = mapped_column(String(16))
    success: Mapped[bool | None] = mapped_column(Boolean)
    error_message: Mapped[str | None] = mapped_column(Text)
    patient_first_name: Mapped[str | None] = mapped_column(String(128))
    patient_last_name: Mapped[str | None] = mapped_column(String(128))
    total_charged: Mapped[Decimal | None] = mapped_column(Money)
    total_paid: Mapped[Decimal | None] = mapped_column(Money)
    allowed_amount: Mapped[Decimal | None] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Money)
    processed_date: Mapped[date | None] = mapped_column(Date)
    status_category: Mapped[str | None] = mapped_column(String(8))
    status_code: Mapped[str | None] = mapped_column(String(8))
    check_number: Mapped[str | None] = mapped_column(String(64))
    result_first_service_date: Mapped[date | None] = mapped_column(Date)
    result_last_service_date: Mapped[date | None] = mapped_column(Date)
    matched_by: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    adjudication_codes: Mapped[str | None] = mapped_column(String(255))  # "CARC 50,RARC N115"

    __table_args__ = (Index("ix_job_rows_job_class", "job_id", "status_class"),)


class TrackedClaim(Base):
    """One claim (payer id, TIN, claim number) as the follow-up knows it: its latest status,
    whether it is still open and when it is due to be asked again (engine.followup)."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(16))
    tin: Mapped[str] = mapped_column(String(16))
    claim_number: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))  # open | closed
    status: Mapped[str] = mapped_column(String(32))
    status_class: Mapped[str] = mapped_column(String(16))
    status_category: Mapped[str | None] = mapped_column(String(8))
    status_code: Mapped[str | None] = mapped_column(String(8))
    total_paid: Mapped[Decimal | None] = mapped_column(Money)
    first_service_date: Mapped[date | None] = mapped_column(Date)
    last_service_date: Mapped[date | None] = mapped_column(Date)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime)  # first seen with this status
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None once closed
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    days_to_close: Mapped[float | None] = mapped_column(Float)
    last_job_id: Mapped[int] = mapped_column(Integer)
    observations: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("payer_id", "tin", "claim_number", name="uq_claims_key"),
        Index("ix_claims_number", "claim_number"),
        Index("ix_claims_due", "state", "next_check_at", "id"),
        Index("ix_claims_state_id", "state", "id"),  # the Follow-up view's pages: one state, by id
    )


class ClaimObservation(Base):
    """What one job's row saw of a claim, kept for good (the claim's timeline). `changed` when
    the claim had been seen before with another status (`previous_*`)."""

    __tablename__ = "claim_observations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(32))
    status_class: Mapped[str] = mapped_column(String(16))
    status_category: Mapped[str | None] = mapped_column(String(8))
    status_code: Mapped[str | None] = mapped_column(String(8))
    total_charged: Mapped[Decimal | None] = mapped_column(Money)
    total_paid: Mapped[Decimal | None] = mapped_column(Money)
    allowed_amount: Mapped[Decimal | None] = mapped_column(Money)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Money)
    check_number: Mapped[str | None] = mapped_column(String(64))
    processed_date: Mapped[date | None] = mapped_column(Date)
    first_service_date: Mapped[date | None] = mapped_column(Date)
    last_service_date: Mapped[date | None] = mapped_column(Date)
    adjudication_codes: Mapped[str | None] = mapped_column(String(255))
    matched_by: Mapped[str | None] = mapped_column(String(16))
    changed: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_status: Mapped[str | None] = mapped_column(String(32))
    previous_category: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        UniqueConstraint("job_id", "row_number", name="uq_claim_observations_row"),
        Index("ix_claim_observations_claim", "claim_id", "id"),
        Index("ix_claim_observations_changes", "changed", "observed_at", "id"),
    )


class Command(Base):
    """A request written by a console or the CLI, acted on by a long-running service."""

    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_commands_pending", "handled_at", "id"),)


class LogRecord(Base):
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    service: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    logger: Mapped[str] = mapped_column(String(64), default="")
    job_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_logs_job", "job_id", "id"),
        Index("ix_logs_run", "run_id", "id"),
        Index("ix_logs_level", "level", "id"),
        Index("ix_logs_service", "service", "id"),
    )


class Metric(Base):
    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(48))
    value: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(32), default="")

    __table_args__ = (Index("ix_metrics_name_at", "name", "at"),)


class MetricMinute(Base):
    """Per-minute rollup of `metrics`: how many rows and their sum, by name and label."""

    __tablename__ = "metric_minutes"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)  # the minute's start
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)

    # on SQLite the rows live in the primary key's b-tree: half the size, reads in key order
    __table_args__ = {"sqlite_with_rowid": False}


class MetricBucket(Base):
    """Per-minute histogram of a latency metric over the log-spaced buckets of engine.buckets."""

    __tablename__ = "metric_buckets"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = {"sqlite_with_rowid": False}


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(64), default="claimsops")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_job_id: Mapped[int | None] = mapped_column(Integer)
    jobs_processed: Mapped[int] = mapped_column(Integer, default=0)
    rows_processed: Mapped[int] = mapped_column(Integer, default=0)


class Lease(Base):
    """A named lease (e.g. the scheduler leadership): one owner until it expires."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskState(Base):
    __tablename__ = "task_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_by: Mapped[str | None] = mapped_column(String(64))
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TaskRun(Base):
    __tablename__ = "task_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    summary: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_task_runs_task", "task", "started_at"),)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # alert | recovery
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HealthState(Base):
    """The last known state of each health check, so alerts fire on changes only."""

    __tablename__ = "health_state"

    check: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[float | None] = mapped_column(Float)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def text_limits(table: Table) -> dict[str, int]:
    """Column name -> length of every String column of `table` (`JobRow.__table__`): the one
    schema truth that intake and normalisation check values against (PostgreSQL enforces these
    lengths, SQLite does not)."""
    return {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, String) and not isinstance(column.type, Text) and column.type.length
    }


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class OperatorGrant(Base):
    """Who may act: an OS user name and its role (admin or operator); everyone else reads."""

    __tablename__ = "operators"

    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OperatorSession(Base):
    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(64))
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    interface: Mapped[str] = mapped_column(String(16), default="console")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PayerToken(Base):
    """Cached payer access tokens shared by workers (the value is stored, never logged)."""

    __tablename__ = "payer_tokens"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ArchivedJob(Base):
    __tablename__ = "archives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
