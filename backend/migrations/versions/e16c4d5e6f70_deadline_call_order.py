"""the deadline call order's settings per store (and the score's weight), with the day's
longest plain-queue wait it measures deadlines by

Revision ID: e16c4d5e6f70
Revises: e17b2c3d4e5f
Create Date: 2026-12-02 18:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e16c4d5e6f70'
down_revision = 'e17b2c3d4e5f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('ratio_power', sa.Float(), nullable=False, server_default='2.0')
        )
        batch_op.add_column(
            sa.Column('fair_factor', sa.Float(), nullable=False, server_default='1.0')
        )
        batch_op.add_column(
            sa.Column('fair_floor_minutes', sa.Integer(), nullable=False, server_default='5')
        )
        batch_op.add_column(
            sa.Column('fair_wait_minutes', sa.Float(), nullable=False, server_default='0')
        )
        batch_op.add_column(sa.Column('fair_wait_day', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('fair_wait_day')
        batch_op.drop_column('fair_wait_minutes')
        batch_op.drop_column('fair_floor_minutes')
        batch_op.drop_column('fair_factor')
        batch_op.drop_column('ratio_power')
