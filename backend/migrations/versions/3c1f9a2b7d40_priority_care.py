"""priority care: a ticket's level set by staff, and the store's rule for it

Revision ID: 3c1f9a2b7d40
Revises: b3c1d2e4f5a6
Create Date: 2026-12-02 05:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1f9a2b7d40'
down_revision = 'b3c1d2e4f5a6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('priority_care', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('priority_care', sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('priority_care')
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('priority_care')
