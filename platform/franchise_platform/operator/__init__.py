"""The platform operators' console on the platform host (/operator/): staff of the public schema,
always with a second factor."""
