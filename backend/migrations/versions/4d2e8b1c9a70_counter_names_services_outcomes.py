"""counters: a name, the services they may serve, held for appointments; services: outcome codes

Revision ID: 4d2e8b1c9a70
Revises: 599cd17caa58
Create Date: 2026-12-02 08:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4d2e8b1c9a70'
down_revision = '599cd17caa58'
branch_labels = None
depends_on = None


# recreate='never': SQLite adds and drops a plain column in place (see 599cd17caa58).


def upgrade():
    with op.batch_alter_table('counter', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('name_zh', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('name_en', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('services', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('reserved', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('service', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('outcomes', sa.JSON(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('service', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('outcomes')

    with op.batch_alter_table('counter', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('reserved')
        batch_op.drop_column('services')
        batch_op.drop_column('name_en')
        batch_op.drop_column('name_zh')
