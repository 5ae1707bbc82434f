"""live floor: the store's wait target

Revision ID: 3c1f7a9d2b40
Revises: 3c1f9a2b7d40
Create Date: 2026-12-03 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1f7a9d2b40'
down_revision = '3c1f9a2b7d40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('wait_target_minutes', sa.Integer(), nullable=False, server_default='20')
        )


def downgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('wait_target_minutes')
