"""a visit for several services in a row: the ticket's plan, and its finished parts

Revision ID: e17f9a0b1c2d
Revises: e17a0b1c2d3e
Create Date: 2026-12-02 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e17f9a0b1c2d'
down_revision = 'e17a0b1c2d3e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('plan', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('plan_step', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('part_at', sa.DateTime(), nullable=True))
    op.create_table(
        'visit_part',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('lane', sa.Enum('fast', 'standard', 'vip', 'appointment', name='lane', native_enum=False, length=16), nullable=False),
        sa.Column('service_day', sa.Date(), nullable=False),
        sa.Column('counter_id', sa.Integer(), nullable=True),
        sa.Column('clerk_id', sa.Integer(), nullable=True),
        sa.Column('queued_at', sa.DateTime(), nullable=False),
        sa.Column('called_at', sa.DateTime(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('promised_minutes', sa.Float(), nullable=True),
        sa.Column('promised_low', sa.Integer(), nullable=True),
        sa.Column('promised_high', sa.Integer(), nullable=True),
        sa.Column('promised_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['clerk_id'], ['user.id']),
        sa.ForeignKeyConstraint(['counter_id'], ['counter.id']),
        sa.ForeignKeyConstraint(['service_id'], ['service.id']),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_visit_part_day', 'visit_part', ['store_id', 'service_day'], unique=False)
    op.create_index(op.f('ix_visit_part_ticket_id'), 'visit_part', ['ticket_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_visit_part_ticket_id'), table_name='visit_part')
    op.drop_index('ix_visit_part_day', table_name='visit_part')
    op.drop_table('visit_part')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('part_at')
        batch_op.drop_column('plan_step')
        batch_op.drop_column('plan')
