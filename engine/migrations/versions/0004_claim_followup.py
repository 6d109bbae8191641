"""claim follow-up: every observation of a claim (claim_observations) and each claim's
follow-up state (claims), jobs.kind (upload | followup), job_rows.adjudication_codes; the
observations are backfilled from the results of existing jobs, oldest first

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:40:00
"""
import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(14, 2, asdecimal=True)
UTC = engine.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='upload'))
    with op.batch_alter_table('job_rows') as batch:
        batch.add_column(sa.Column('adjudication_codes', sa.String(length=255), nullable=True))
    op.create_table('claims',
    sa.Column('id', BigId, nullable=False),
    sa.Column('payer_id', sa.String(length=16), nullable=False),
    sa.Column('tin', sa.String(length=16), nullable=False),
    sa.Column('claim_number', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_class', sa.String(length=16), nullable=False),
    sa.Column('status_category', sa.String(length=8), nullable=True),
    sa.Column('status_code', sa.String(length=8), nullable=True),
    sa.Column('total_paid', Money, nullable=True),
    sa.Column('first_service_date', sa.Date(), nullable=True),
    sa.Column('last_service_date', sa.Date(), nullable=True),
    sa.Column('first_seen_at', UTC, nullable=False),
    sa.Column('last_observed_at', UTC, nullable=False),
    sa.Column('status_since', UTC, nullable=False),
    sa.Column('next_check_at', UTC, nullable=True),
    sa.Column('closed_at', UTC, nullable=True),
    sa.Column('days_to_close', sa.Float(), nullable=True),
    sa.Column('last_job_id', sa.Integer(), nullable=False),
    sa.Column('observations', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims')),
    sa.UniqueConstraint('payer_id', 'tin', 'claim_number', name='uq_claims_key'),
    )
    op.create_index('ix_claims_number', 'claims', ['claim_number'])
    op.create_index('ix_claims_due', 'claims', ['state', 'next_check_at', 'id'])
    op.create_index('ix_claims_state_id', 'claims', ['state', 'id'])
    op.create_index(op.f('ix_claims_closed_at'), 'claims', ['closed_at'])
    op.create_table('claim_observations',
    sa.Column('id', BigId, nullable=False),
    sa.Column('claim_id', BigId, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('observed_at', UTC, nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_class', sa.String(length=16), nullable=False),
    sa.Column('status_category', sa.String(length=8), nullable=True),
    sa.Column('status_code', sa.String(length=8), nullable=True),
    sa.Column('total_charged', Money, nullable=True),
    sa.Column('total_paid', Money, nullable=True),
    sa.Column('allowed_amount', Money, nullable=True),
    sa.Column('patient_responsibility', Money, nullable=True),
    sa.Column('check_number', sa.String(length=64), nullable=True),
    sa.Column('processed_date', sa.Date(), nullable=True),
    sa.Column('first_service_date', sa.Date(), nullable=True),
    sa.Column('last_service_date', sa.Date(), nullable=True),
    sa.Column('adjudication_codes', sa.String(length=255), nullable=True),
    sa.Column('matched_by', sa.String(length=16), nullable=True),
    sa.Column('changed', sa.Boolean(), nullable=False),
    sa.Column('previous_status', sa.String(length=32), nullable=True),
    sa.Column('previous_category', sa.String(length=8), nullable=True),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_observations_claim_id_claims'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_claim_observations_job_id_jobs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_observations')),
    sa.UniqueConstraint('job_id', 'row_number', name='uq_claim_observations_row'),
    )
    op.create_index('ix_claim_observations_claim', 'claim_observations', ['claim_id', 'id'])
    op.create_index('ix_claim_observations_changes', 'claim_observations', ['changed', 'observed_at', 'id'])
    _backfill()


def _backfill() -> None:
    """Every result already written becomes an observation, in the order it was written (each
    write batch shares one time), so the claims' states and changes are what they would be had
    the follow-up always been there."""
    from sqlalchemy.orm import Session

    from engine.followup.record import Seen, record_observations
    from engine.jobs.rows import row_result
    from engine.models import Job, JobRow

    session = Session(bind=op.get_bind())
    query = (
        sa.select(JobRow, Job.tin, Job.payer_id)
        .join(Job, Job.id == JobRow.job_id)
        .where(JobRow.status.is_not(None), JobRow.resolved_at.is_not(None), JobRow.claim_number != "")
        .order_by(JobRow.resolved_at, JobRow.job_id, JobRow.row_number)
        .execution_options(yield_per=2000)
    )
    batch: list[Seen] = []
    at = None
    for row, job_tin, job_payer in session.execute(query):
        if batch and (row.resolved_at != at or len(batch) >= 2000):
            record_observations(session, batch, at)
            batch = []
        at = row.resolved_at
        result = row_result(row)
        batch.append(Seen(row.job_id, row.row_number, row.payer_id or job_payer, row.tin or job_tin,
                          row.claim_number, result, row.first_service_date, row.last_service_date))
        session.expunge(row)
    if batch:
        record_observations(session, batch, at)
    session.flush()


def downgrade() -> None:
    op.drop_table('claim_observations')
    op.drop_table('claims')
    with op.batch_alter_table('job_rows') as batch:
        batch.drop_column('adjudication_codes')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('kind')
