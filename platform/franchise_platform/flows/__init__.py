"""Use cases: each opens the transaction, calls the domain (payments, network), then queues the
CRM changes it implies (crm_sync's outbox). The edges call these; the domain never does."""
