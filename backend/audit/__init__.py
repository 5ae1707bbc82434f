"""The audit log: who changed which setting of a store, when, from what to what."""
