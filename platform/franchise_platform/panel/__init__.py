"""The owner's panel on a network host (/panel/): server-rendered pages over the network services."""
