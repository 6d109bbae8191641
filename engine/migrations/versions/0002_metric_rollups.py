"""metric rollups: per-minute counts and sums (metric_minutes) and latency histograms
(metric_buckets), backfilled from the last 2 hours of raw metrics (the Stats tab reads the last
hour; a longer backfill would hold the write lock for minutes on a busy installation)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 05:45:00
"""
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BACKFILL = timedelta(hours=2)


def upgrade() -> None:
    op.create_table('metric_minutes',
    sa.Column('name', sa.String(length=48), nullable=False),
    sa.Column('minute', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'minute', 'label', name=op.f('pk_metric_minutes')),
    sqlite_with_rowid=False,
    )
    op.create_table('metric_buckets',
    sa.Column('name', sa.String(length=48), nullable=False),
    sa.Column('minute', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'minute', 'bucket', name=op.f('pk_metric_buckets')),
    sqlite_with_rowid=False,
    )
    # Streamed in Python (SQLite may lack ln()); older minutes simply have no rollups.
    from engine.models import utcnow
    from engine.rollups import rebuild

    rebuild(op.get_bind(), utcnow() - BACKFILL)


def downgrade() -> None:
    op.drop_table('metric_buckets')
    op.drop_table('metric_minutes')
