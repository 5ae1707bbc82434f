// Generated from backend/live/events.py by `make generate`: do not edit by hand.
export const EVENTS = Object.freeze({
  ISSUED: 'issued',
  CALLED: 'called',
  RECALLED: 'recalled',
  STARTED: 'started',
  COMPLETED: 'completed',
  NO_SHOW: 'no_show',
  CANCELLED: 'cancelled',
  TRANSFERRED: 'transferred',
  REJOINED: 'rejoined',
  PARKED: 'parked',
  RESUMED: 'resumed',
  ARRIVED: 'arrived',
  NEXT_PART: 'next_part',
  LET_AHEAD: 'let_ahead',
  COUNTER_CHANGED: 'counter_changed',
  SETTINGS_CHANGED: 'settings_changed',
  STEPS: 'steps',
  QUEUE_UPDATED: 'queue_updated',
  TICKET: 'ticket',
  CHAIN_STORE: 'chain_store',
});
// Thin store events: {version, event, ticket (brief) or null, counter or null}; each adds 1 to the version. A command's several come as one `steps` frame:
// {version, events: [thin event, ...]}.
export const STORE_EVENTS = Object.freeze(['issued', 'called', 'recalled', 'started', 'completed', 'no_show', 'cancelled', 'transferred', 'rejoined', 'parked', 'resumed', 'arrived', 'next_part', 'let_ahead', 'counter_changed', 'settings_changed']);
