"""outbox messages (SMS confirmation and reminder of a booking), the store's reminder setting

Revision ID: c7a1e5d3b901
Revises: c4a5e0f1d2b3
Create Date: 2026-12-02 09:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c7a1e5d3b901'
down_revision = 'c4a5e0f1d2b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.Enum('confirmation', 'reminder', name='messagekind', native_enum=False, length=16), nullable=False),
        sa.Column('channel', sa.Enum('sms', name='channel', native_enum=False, length=16), nullable=False),
        sa.Column('recipient', sa.String(length=64), nullable=False),
        sa.Column('text_key', sa.String(length=64), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('send_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.Enum('queued', 'sent', 'failed', 'dead', 'cancelled', name='messagestatus', native_enum=False, length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('subject', 'kind', 'channel', name='uq_outbox_subject_kind_channel'),
    )
    op.create_index('ix_outbox_due', 'outbox_message', ['status', 'send_at'], unique=False)
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('reminder_minutes', sa.Integer(), nullable=False, server_default='120'))


def downgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('reminder_minutes')
    op.drop_index('ix_outbox_due', table_name='outbox_message')
    op.drop_table('outbox_message')
