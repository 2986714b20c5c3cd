"""An in-memory CRM for local development and tests."""
