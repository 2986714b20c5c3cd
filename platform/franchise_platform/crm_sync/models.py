"""Models of this app live in the network schema."""
