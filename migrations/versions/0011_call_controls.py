"""call controls: holds, transfers and consult legs on agent legs; transfers into queues

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 15:00:00

agent_legs: kind (queue, transfer, consult), hold_count (hold_seconds exists), from_leg_id
(the leg that handed the caller to this one), transfer_kind / transfer_queue /
transfer_agent_id (where this leg handed the caller on). queue_entries: transferred_from_leg_id
(an agent's blind transfer into this queue). Existing legs are queue legs without holds.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('agent_legs') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=20), nullable=False,
                                   server_default='queue'))
        batch.add_column(sa.Column('hold_count', sa.Integer(), nullable=False,
                                   server_default='0'))
        batch.add_column(sa.Column('from_leg_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('transfer_kind', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('transfer_queue', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('transfer_agent_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_agent_legs_from_leg_id', 'agent_legs', ['from_leg_id'],
                                 ['id'])
        batch.create_foreign_key('fk_agent_legs_transfer_agent_id', 'agents',
                                 ['transfer_agent_id'], ['id'])
    with op.batch_alter_table('queue_entries') as batch:
        batch.add_column(sa.Column('transferred_from_leg_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_queue_entries_transferred_from_leg_id', 'agent_legs',
                                 ['transferred_from_leg_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('queue_entries') as batch:
        batch.drop_constraint('fk_queue_entries_transferred_from_leg_id', type_='foreignkey')
        batch.drop_column('transferred_from_leg_id')
    with op.batch_alter_table('agent_legs') as batch:
        batch.drop_constraint('fk_agent_legs_transfer_agent_id', type_='foreignkey')
        batch.drop_constraint('fk_agent_legs_from_leg_id', type_='foreignkey')
        for column in ('transfer_agent_id', 'transfer_queue', 'transfer_kind', 'from_leg_id',
                       'hold_count', 'kind'):
            batch.drop_column(column)
