"""Staffing advice (排班): counters per hour from the history, Erlang C and the simulator."""
