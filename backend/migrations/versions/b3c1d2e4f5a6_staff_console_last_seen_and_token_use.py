"""staff console: when an account was last seen, when an API token was last used

Revision ID: b3c1d2e4f5a6
Revises: 66eef0f58bcb
Create Date: 2026-12-05 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c1d2e4f5a6'
down_revision = '66eef0f58bcb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('api_token', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_token', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('last_used_at')

    with op.batch_alter_table('user', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('last_seen_at')
