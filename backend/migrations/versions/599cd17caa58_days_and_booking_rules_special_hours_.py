"""days and booking rules: special hours, per-service slot capacity, store actions on bookings

The store-wide number of bookings at one time (store.appointment_counters) becomes each service's
slot capacity: every service starts with its store's former value.

Revision ID: 599cd17caa58
Revises: 3c1f7a9d2b40
Create Date: 2026-12-02 04:48:21.206177

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '599cd17caa58'
down_revision = '3c1f7a9d2b40'
branch_labels = None
depends_on = None


# recreate='never' throughout: SQLite (3.35 on) adds and drops a plain column in place, where
# copying the table would trip the foreign keys of every table that references it.


def upgrade():
    with op.batch_alter_table('appointment', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('store_action', sa.Enum('cancelled', 'moved', name='storeaction', native_enum=False, length=16), nullable=True))
        batch_op.add_column(sa.Column('store_message_zh', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('store_message_en', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('moved_from', sa.DateTime(), nullable=True))

    with op.batch_alter_table('service', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('slot_capacity', sa.Integer(), nullable=False, server_default='1'))

    op.execute(
        "UPDATE service SET slot_capacity = "
        "(SELECT store.appointment_counters FROM store WHERE store.id = service.store_id)"
    )

    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('special_hours', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.drop_column('appointment_counters')


def downgrade():
    with op.batch_alter_table('store', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('appointment_counters', sa.INTEGER(), nullable=False, server_default='1'))
        batch_op.drop_column('special_hours')

    # The store-wide value back: the largest of its services' capacities.
    op.execute(
        "UPDATE store SET appointment_counters = COALESCE("
        "(SELECT MAX(service.slot_capacity) FROM service WHERE service.store_id = store.id), 1)"
    )

    with op.batch_alter_table('service', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('slot_capacity')

    with op.batch_alter_table('appointment', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('moved_from')
        batch_op.drop_column('store_message_en')
        batch_op.drop_column('store_message_zh')
        batch_op.drop_column('store_action')
