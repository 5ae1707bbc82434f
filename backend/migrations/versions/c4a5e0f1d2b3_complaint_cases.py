"""complaint cases: a case per complaint with its timeline; the store's case settings

Revision ID: c4a5e0f1d2b3
Revises: 8d2e4c1a7b90
Create Date: 2026-12-02 09:20:00

"""
from alembic import op
import sqlalchemy as sa



revision = 'c4a5e0f1d2b3'
down_revision = '8d2e4c1a7b90'
branch_labels = None
depends_on = None

STATUSES = ('open', 'in_progress', 'resolved', 'followed_up', 'closed')
CATEGORIES = ('billing', 'network', 'service_attitude', 'plan_contract', 'device', 'other')


def upgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('case_days', sa.Integer(), nullable=False, server_default='3'))
        batch_op.add_column(sa.Column('case_rating_threshold', sa.Integer(), nullable=False, server_default='2'))
    op.create_table(
        'complaint_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=24), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('category', sa.Enum(*CATEGORIES, name='casecategory', native_enum=False, length=16), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.Enum(*STATUSES, name='casestatus', native_enum=False, length=16), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('promised_by', sa.Date(), nullable=False),
        sa.Column('resolved_at', sa.DateTime(), nullable=True),
        sa.Column('consent', sa.Boolean(), nullable=False),
        sa.Column('contact_name', sa.String(length=40), nullable=False),
        sa.Column('contact_phone', sa.String(length=20), nullable=False),
        sa.Column('contact_erased', sa.Boolean(), nullable=False),
        sa.Column('follow_up_stars', sa.Integer(), nullable=True),
        sa.Column('follow_up_comment', sa.Text(), nullable=False),
        sa.Column('follow_up_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['user.id']),
        sa.ForeignKeyConstraint(['store_id'], ['store.id']),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('store_id', 'number'),
        sa.UniqueConstraint('ticket_id'),
    )
    op.create_index('ix_case_inbox', 'complaint_case', ['store_id', 'status', 'promised_by'])
    op.create_table(
        'case_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('author_name', sa.String(length=80), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['user.id']),
        sa.ForeignKeyConstraint(['case_id'], ['complaint_case.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_note_case_id', 'case_note', ['case_id'])


def downgrade():
    op.drop_index('ix_case_note_case_id', table_name='case_note')
    op.drop_table('case_note')
    op.drop_index('ix_case_inbox', table_name='complaint_case')
    op.drop_table('complaint_case')
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('case_rating_threshold')
        batch_op.drop_column('case_days')
