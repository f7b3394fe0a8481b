"""who ended each call (caller, agent, platform shutdown or restart, PBX restart, media timeout)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:00:00

Outcome and queue result values are plain strings (no constraint): the new values need no DDL.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('ended_by', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('ended_by')
