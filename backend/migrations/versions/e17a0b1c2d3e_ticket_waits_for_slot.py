"""an early arrival's appointment ticket waits for its slot (ticket.waits_for_slot)

Revision ID: e17a0b1c2d3e
Revises: c7a1e5d3b901
Create Date: 2026-12-02 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e17a0b1c2d3e'
down_revision = 'c7a1e5d3b901'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('waits_for_slot', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('waits_for_slot')
