"""queue entries by time: the statistics read a period's entries without scanning them all

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 19:00:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_queue_entries_entered_at', 'queue_entries', ['entered_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_queue_entries_entered_at', table_name='queue_entries')
