/* Calls as the display keeps them: pure helpers (no DOM) for the waiting-area screen. */

/* The call a thin called/recalled event announces: {ticket_id, label, counter, lane, channel,
   called_at, recall_count}. */
export function callOf(ticket, counter) {
  return {
    ticket_id: ticket.id,
    label: ticket.label,
    counter: counter != null ? counter : ticket.counter,
    lane: ticket.lane,
    channel: ticket.channel,
    called_at: ticket.called_at,
    recall_count: ticket.recall_count || 0,
  };
}

/* One call of a ticket (a ticket called again after a transfer is another call). */
export const callKey = (c) => c.ticket_id + '@' + (c.called_at || '');
/* What is announced once: the call and its recall count (each recall is announced again). */
export const announceKey = (c) => callKey(c) + '#' + (c.recall_count || 0);

const AT_COUNTER = ['called', 'serving'];

/* The counters list after a thin event about `ticket` (a brief) at counter number `counter`: the
   ticket leaves any counter it was shown at, and is shown at its counter while called or served. */
export function patchCounters(counters, ticket, counter) {
  if (!ticket) return counters;
  const at = counter != null ? Number(counter) : ticket.counter != null ? Number(ticket.counter) : null;
  const here = AT_COUNTER.includes(ticket.status) && at != null;
  return counters.map((c) => {
    if (here && Number(c.number) === at) return Object.assign({}, c, { current: ticket });
    if (c.current && c.current.id === ticket.id) return Object.assign({}, c, { current: null });
    return c;
  });
}
