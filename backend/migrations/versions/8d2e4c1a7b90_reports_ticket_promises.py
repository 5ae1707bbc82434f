"""reports: the estimate each ticket was promised, and the reports' event index

Revision ID: 8d2e4c1a7b90
Revises: 4d2e8b1c9a70
Create Date: 2026-12-02 08:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8d2e4c1a7b90'
down_revision = '4d2e8b1c9a70'
branch_labels = None
depends_on = None


def upgrade():
    # recreate='never': SQLite adds and drops a plain column in place.
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('promised_minutes', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('promised_low', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('promised_high', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('promised_at', sa.DateTime(), nullable=True))
    op.create_index(
        'ix_ticket_event_report', 'ticket_event', ['store_id', 'action', 'at', 'ticket_id']
    )


def downgrade():
    op.drop_index('ix_ticket_event_report', table_name='ticket_event')
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('promised_at')
        batch_op.drop_column('promised_high')
        batch_op.drop_column('promised_low')
        batch_op.drop_column('promised_minutes')
