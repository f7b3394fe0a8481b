"""lookup failures: the order-lookup throttle's shared state

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('lookup_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lookup_failures', schema=None) as batch_op:
        batch_op.create_index('ix_lookup_failures_key_at', ['key', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lookup_failures_at'), ['at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('lookup_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lookup_failures_at'))
        batch_op.drop_index('ix_lookup_failures_key_at')
    op.drop_table('lookup_failures')
