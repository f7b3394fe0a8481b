"""calls.node: the node that carries each call; sip_subscribers: the agents' digest
credentials as a SIP proxy (Kamailio's auth_db) reads them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:30:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Enabled agents only: a disabled agent's phone can no longer register through the proxy.
SUBSCRIBERS = ("CREATE VIEW sip_subscribers AS "
               "SELECT number AS username, sip_ha1 AS ha1 FROM agents WHERE enabled")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('node', sa.String(length=31), nullable=True))
        batch.create_index('ix_calls_node', ['node'], unique=False)
    op.execute(SUBSCRIBERS)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP VIEW sip_subscribers")
    with op.batch_alter_table('calls') as batch:
        batch.drop_index('ix_calls_node')
        batch.drop_column('node')
