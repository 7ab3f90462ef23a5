"""Lists events with the official WorkOS Python SDK, one line per event: the SDK model's class name, then its
data as JSON (the SDK's own to_dict), oldest first. A test's way to check that the SDK parses what `vault serve`
records.

    WORKOS_BASE_URL=http://127.0.0.1:PORT WORKOS_API_KEY=sk_... WORKOS_CLIENT_ID=client_test \\
        python3 sdk_list_events.py vault.byok_key.deleted [more event types...]
"""

from __future__ import annotations

import json
import sys

from workos import WorkOSClient

client = WorkOSClient(max_retries=0)
for event in client.events.list_events(events=sys.argv[1:], order="asc", limit=100).auto_paging_iter():
    print(type(event).__name__, json.dumps(event.data.to_dict(), sort_keys=True))
