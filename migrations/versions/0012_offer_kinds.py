"""offer kinds: queue entries of callback attempts, for the statistics

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-30 15:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('live', 'callback', name='offerkind',
                                                      native_enum=False, length=20),
                                      server_default='live', nullable=False))
        batch_op.add_column(sa.Column('callback_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_queue_entries_callback_id'), ['callback_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_queue_entries_callback_id', 'callbacks',
                                    ['callback_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.drop_constraint('fk_queue_entries_callback_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_queue_entries_callback_id'))
        batch_op.drop_column('callback_id')
        batch_op.drop_column('kind')
