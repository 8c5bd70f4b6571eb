"""RPCs a client test may find UNIMPLEMENTED on the server. Every issue is merged: none."""

NOT_YET_ON_MAIN: set[str] = set()
