"""the reports' facts of each settled service day of a store

Revision ID: e18a1b2c3d4e
Revises: e16c4d5e6f70
Create Date: 2026-12-03 07:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e18a1b2c3d4e'
down_revision = 'e16c4d5e6f70'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_day',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('service_day', sa.Date(), nullable=False),
        sa.Column('layout', sa.Integer(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('built_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('store_id', 'service_day'),
    )


def downgrade():
    op.drop_table('report_day')
