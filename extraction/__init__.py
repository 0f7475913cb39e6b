"""The mechanistic route: train networks, read programs out of them (issue 4). Nothing here yet."""
