"""recordings of agent conversations: files, segments per agent leg, access audit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'recordings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('queue', sa.String(length=40), nullable=True),
        sa.Column('center_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('raw_path', sa.String(length=300), nullable=False),
        sa.Column('path', sa.String(length=300), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('duration_seconds', sa.Float(), nullable=True),
        sa.Column('size_bytes', sa.Integer(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('channels', sa.Integer(), nullable=True),
        sa.Column('sample_rate', sa.Integer(), nullable=True),
        sa.Column('pauses', sa.JSON(), nullable=False),
        sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name='fk_recordings_call_id'),
        sa.ForeignKeyConstraint(['center_id'], ['centers.id'], name='fk_recordings_center_id'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id', name='uq_recordings_call_id'),
    )
    op.create_index('ix_recordings_started', 'recordings', ['started_at'])
    op.create_table(
        'recording_segments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('leg_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('start_offset', sa.Float(), nullable=False),
        sa.Column('end_offset', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], ondelete='CASCADE',
                                name='fk_recording_segments_recording_id'),
        sa.ForeignKeyConstraint(['leg_id'], ['agent_legs.id'],
                                name='fk_recording_segments_leg_id'),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'],
                                name='fk_recording_segments_agent_id'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recording_segments_recording_id', 'recording_segments',
                    ['recording_id'])
    op.create_index('ix_recording_segments_agent_id', 'recording_segments', ['agent_id'])
    op.create_table(
        'recording_access',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'],
                                name='fk_recording_access_recording_id'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recording_access_recording_id', 'recording_access', ['recording_id'])
    op.create_index('ix_recording_access_at', 'recording_access', ['at'])


def downgrade() -> None:
    op.drop_table('recording_access')
    op.drop_table('recording_segments')
    op.drop_table('recordings')
