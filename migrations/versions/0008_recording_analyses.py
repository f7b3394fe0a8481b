"""speech analytics of recordings: activity, keywords, transcripts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 13:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'recording_analyses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('tier', sa.String(length=10), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('keywords', sa.String(length=400), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('error', sa.String(length=300), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], ondelete='CASCADE',
                                name='fk_recording_analyses_recording_id'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('recording_id', 'tier', name='uq_recording_analyses_tier'),
    )
    op.create_index('ix_recording_analyses_recording_id', 'recording_analyses',
                    ['recording_id'])


def downgrade() -> None:
    op.drop_table('recording_analyses')
