"""operators: who may act (admin or operator), stored in the database rather than read from the
caller's environment; the OS user running this migration becomes the first admin (on a fresh
database, its creator; on an older one, whoever upgrades it)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:40:00
"""
import sqlalchemy as sa
from alembic import op

import engine.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('operators',
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('granted_by', sa.String(length=64), nullable=False),
    sa.Column('granted_at', engine.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user', name=op.f('pk_operators')),
    )
    from engine.models import utcnow
    from engine.operators import ADMIN, os_user

    creator = os_user()
    op.bulk_insert(table, [{'user': creator, 'role': ADMIN, 'granted_by': creator, 'granted_at': utcnow()}])


def downgrade() -> None:
    op.drop_table('operators')
