"""web push subscriptions, "almost your turn" (the store's threshold), a remote joiner's phone

Revision ID: e15d6e7f8091
Revises: e17f9a0b1c2d
Create Date: 2026-12-02 13:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e15d6e7f8091'
down_revision = 'e17f9a0b1c2d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'push_subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('endpoint', sa.String(length=1024), nullable=False),
        sa.Column('p256dh', sa.String(length=128), nullable=False),
        sa.Column('auth', sa.String(length=64), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id']),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('appointment_id', 'endpoint', name='uq_push_appointment_endpoint'),
        sa.UniqueConstraint('ticket_id', 'endpoint', name='uq_push_ticket_endpoint'),
    )
    op.create_index('ix_push_store_created', 'push_subscription', ['store_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_push_subscription_ticket_id'), 'push_subscription', ['ticket_id'], unique=False)
    op.create_index(op.f('ix_push_subscription_appointment_id'), 'push_subscription', ['appointment_id'], unique=False)
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('almost_ahead', sa.Integer(), nullable=False, server_default='2'))
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('push_subscribed', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('phone_language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('ticket', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('phone_language')
        batch_op.drop_column('phone')
        batch_op.drop_column('push_subscribed')
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('almost_ahead')
    op.drop_index(op.f('ix_push_subscription_appointment_id'), table_name='push_subscription')
    op.drop_index(op.f('ix_push_subscription_ticket_id'), table_name='push_subscription')
    op.drop_index('ix_push_store_created', table_name='push_subscription')
    op.drop_table('push_subscription')
