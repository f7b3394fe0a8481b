"""quality assurance: scorecards as used, evaluations of calls and agents, their answers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 12:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('qa_scorecards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    op.create_table('qa_evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('center_id', sa.Integer(), nullable=True),
    sa.Column('scorecard_id', sa.Integer(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('total_score', sa.Float(), nullable=False),
    sa.Column('critical_failed', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ),
    sa.ForeignKeyConstraint(['center_id'], ['centers.id'], ),
    sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['scorecard_id'], ['qa_scorecards.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('qa_evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_qa_evaluations_agent_created', ['agent_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_evaluations_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_evaluations_center_id'), ['center_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qa_evaluations_evaluator_id'), ['evaluator_id'], unique=False)

    op.create_table('qa_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=40), nullable=False),
    sa.Column('points', sa.Float(), nullable=True),
    sa.Column('na', sa.Boolean(), nullable=False),
    sa.Column('failed', sa.Boolean(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['evaluation_id'], ['qa_evaluations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('evaluation_id', 'question')
    )
    with op.batch_alter_table('qa_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qa_answers_evaluation_id'), ['evaluation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('qa_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_answers_evaluation_id'))
    op.drop_table('qa_answers')
    with op.batch_alter_table('qa_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qa_evaluations_evaluator_id'))
        batch_op.drop_index(batch_op.f('ix_qa_evaluations_center_id'))
        batch_op.drop_index(batch_op.f('ix_qa_evaluations_call_id'))
        batch_op.drop_index('ix_qa_evaluations_agent_created')
    op.drop_table('qa_evaluations')
    op.drop_table('qa_scorecards')
