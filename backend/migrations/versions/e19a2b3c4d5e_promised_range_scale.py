"""the factor each promised range was scaled by (ticket/visit_part.promised_scale)

Revision ID: e19a2b3c4d5e
Revises: e18c0a1b2c3d
Create Date: 2026-12-06 22:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e19a2b3c4d5e'
down_revision = 'e18c0a1b2c3d'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('ticket', 'visit_part'):
        with op.batch_alter_table(table, schema=None, recreate='never') as batch_op:
            batch_op.add_column(sa.Column('promised_scale', sa.Float(), nullable=True))


def downgrade():
    for table in ('ticket', 'visit_part'):
        with op.batch_alter_table(table, schema=None, recreate='never') as batch_op:
            batch_op.drop_column('promised_scale')
