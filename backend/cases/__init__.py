"""Complaint cases (工单): a promised-by date, an owner, a timeline and the customer's follow-up."""
