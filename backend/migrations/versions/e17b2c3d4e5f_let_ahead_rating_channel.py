"""let a few go ahead (让号): the store's limit and the ticket's use of it; where a rating was
given (the phone or the counter's screen)

Revision ID: e17b2c3d4e5f
Revises: e15d6e7f8091
Create Date: 2026-12-02 13:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17b2c3d4e5f'
down_revision = 'e15d6e7f8091'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('let_ahead_places', sa.Integer(), nullable=False, server_default='3')
        )
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('let_ahead_count', sa.Integer(), nullable=False, server_default='0')
        )
    with op.batch_alter_table('feedback', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('channel', sa.String(length=16), nullable=False, server_default='phone')
        )


def downgrade():
    with op.batch_alter_table('feedback', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('let_ahead_count')
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('let_ahead_places')
