"""a paused counter's planned return (counter.back_at)

Revision ID: e18c0a1b2c3d
Revises: e18a1b2c3d4e
Create Date: 2026-12-03 07:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e18c0a1b2c3d'
down_revision = 'e18a1b2c3d4e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('counter', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('back_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('counter', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('back_at')
