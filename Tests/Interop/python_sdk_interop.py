#!/usr/bin/env python3
"""Drives the official WorkOS Python SDK's vault module (and `client.events.list_events` for the
Vault events) against `vault serve`.

Environment: WORKOS_BASE_URL (the server, e.g. http://127.0.0.1:8080), WORKOS_API_KEY (an accepted
key) and WORKOS_CLIENT_ID (any client_... id). Every check runs even after a failure; the last line
is `python-sdk-interop: N passed, M failed` and the exit status is non-zero on any failure.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import sys
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

try:
    from workos import (
        AuthenticationError,
        BadRequestError,
        ConflictError,
        NotFoundError,
        UnprocessableEntityError,
        WorkOSClient,
    )
except ImportError as error:  # pragma: no cover - reported, then a failing exit
    print(f"the workos package is not installed: {error}", file=sys.stderr)
    print("python-sdk-interop: 0 passed, 1 failed")
    sys.exit(2)

PREFIX = f"interop-{uuid.uuid4().hex[:8]}"
CONTEXT = {"organization_id": "org_interop", "team": "python"}

passed = 0
failed = 0
state: dict[str, object] = {}


def check(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Runs the decorated function at once as one named check."""

    def run(body: Callable[[], None]) -> Callable[[], None]:
        global passed, failed
        try:
            body()
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(limit=4, file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name}")
        return body

    return run


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def expect_raises(error_type: type[BaseException], body: Callable[[], object]) -> BaseException:
    try:
        body()
    except error_type as error:
        return error
    raise AssertionError(f"expected {error_type.__name__}")


for variable in ("WORKOS_BASE_URL", "WORKOS_API_KEY"):
    if not os.environ.get(variable):
        print(f"{variable} is not set", file=sys.stderr)
        print("python-sdk-interop: 0 passed, 1 failed")
        sys.exit(2)

client = WorkOSClient(max_retries=0)
vault = client.vault
print(f"workos {importlib.metadata.version('workos')} against {os.environ['WORKOS_BASE_URL']}")


@check("create_kv returns the metadata of the new object")
def _() -> None:
    metadata = vault.create_kv(name=f"{PREFIX}/db password", value="hunter2", key_context=CONTEXT)
    expect(metadata.id and metadata.version_id, "id and version_id are set")
    expect(metadata.context == CONTEXT, f"context {metadata.context}")
    expect(metadata.updated_by.name.startswith("sk_"), f"updated_by {metadata.updated_by}")
    expect(metadata.updated_at.tzinfo is not None, "updated_at is an aware datetime")
    state["object"] = metadata


@check("create_kv with a name in use raises ConflictError")
def _() -> None:
    expect_raises(
        ConflictError,
        lambda: vault.create_kv(name=f"{PREFIX}/db password", value="other", key_context=CONTEXT),
    )


@check("get_kv reads and decrypts by id")
def _() -> None:
    metadata = state["object"]
    obj = vault.get_kv(metadata.id)
    expect(obj.value == "hunter2", "value")
    expect(obj.name == f"{PREFIX}/db password", f"name {obj.name}")
    expect(obj.metadata.version_id == metadata.version_id, "version_id")


@check("get_name reads by a name holding '/' and a space")
def _() -> None:
    obj = vault.get_name(f"{PREFIX}/db password")
    expect(obj.id == state["object"].id, "same object")
    expect(obj.value == "hunter2", "value")


@check("update_kv without version_check (and with version_check=None)")
def _() -> None:
    metadata = state["object"]
    updated = vault.update_kv(metadata.id, value="hunter3")
    expect(updated.metadata.version_id != metadata.version_id, "a new version")
    expect(updated.name == f"{PREFIX}/db password", "name")
    again = vault.update_kv(metadata.id, value="hunter4", version_check=None)
    expect(again.metadata.version_id != updated.metadata.version_id, "a newer version")
    state["current_version"] = again.metadata.version_id


@check("update_kv with the current version_check succeeds, a stale one raises ConflictError")
def _() -> None:
    metadata = state["object"]
    current = state["current_version"]
    updated = vault.update_kv(metadata.id, value="hunter5", version_check=current)
    state["current_version"] = updated.metadata.version_id
    expect_raises(ConflictError, lambda: vault.update_kv(metadata.id, value="stale", version_check=current))
    expect(vault.get_kv(metadata.id).value == "hunter5", "the stale update changed nothing")


@check("list_kv_metadata describes without the value")
def _() -> None:
    described = vault.list_kv_metadata(state["object"].id)
    expect(described.id == state["object"].id, "id")
    expect(described.metadata.version_id == state["current_version"], "current version")
    expect(not hasattr(described, "value"), "no value")


@check("list_kv_versions lists every version, newest first")
def _() -> None:
    versions = vault.list_kv_versions(state["object"].id)
    expect(len(versions.data) == 4, f"{len(versions.data)} versions")
    expect(versions.data[0].current_version, "the first is current")
    expect(sum(1 for version in versions.data if version.current_version) == 1, "one current version")
    expect(versions.data[0].id == state["current_version"], "the current id")
    expect(versions.data[0].size == len("hunter5"), "size in bytes")
    expect(all(version.etag for version in versions.data), "etags")


@check("list_kv auto-pagination crosses pages in both orders")
def _() -> None:
    names = [f"{PREFIX}-page-{index:02d}" for index in range(13)]
    for name in names:
        vault.create_kv(name=name, value="v", key_context=CONTEXT)
    first_page = vault.list_kv(search=f"{PREFIX}-page-")
    expect(len(first_page.data) == 10, f"first page holds {len(first_page.data)}")
    expect(first_page.has_more(), "there is a next page")
    listed = [item.name for item in first_page.auto_paging_iter()]
    expect(sorted(listed) == names, f"listed {len(listed)}: {listed}")
    expect(len(set(listed)) == len(listed), "no duplicates")
    ascending = [item.name for item in vault.list_kv(search=f"{PREFIX}-page-", order="asc", limit=4).auto_paging_iter()]
    expect(ascending == list(reversed(listed)), "ascending is descending reversed")


@check("list_kv with updated_after (sent as updatedAfter)")
def _() -> None:
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    recent = [item.name for item in vault.list_kv(search=PREFIX, updated_after=past, limit=100).auto_paging_iter()]
    expect(len(recent) == 14, f"{len(recent)} recent objects")
    expect(vault.list_kv(search=PREFIX, updated_after=future).data == [], "nothing from the future")


@check("an explicit idempotency_key replays the first create")
def _() -> None:
    options = {"idempotency_key": str(uuid.uuid4())}
    first = vault.create_kv(name=f"{PREFIX}-idempotent", value="v", key_context=CONTEXT, request_options=options)
    second = vault.create_kv(name=f"{PREFIX}-idempotent", value="v", key_context=CONTEXT, request_options=options)
    expect(first.id == second.id, "the same object")
    expect(len(vault.list_kv(search=f"{PREFIX}-idempotent").data) == 1, "one object")


@check("delete_kv with a stale version_check raises ConflictError, then delete_kv deletes")
def _() -> None:
    metadata = state["object"]
    expect_raises(ConflictError, lambda: vault.delete_kv(metadata.id, version_check=metadata.version_id))
    expect(vault.delete_kv(metadata.id, version_check=state["current_version"]) is None, "no return value")


@check("a deleted object is not found, and its name can be used again")
def _() -> None:
    metadata = state["object"]
    expect_raises(NotFoundError, lambda: vault.get_kv(metadata.id))
    expect_raises(NotFoundError, lambda: vault.get_name(f"{PREFIX}/db password"))
    expect_raises(NotFoundError, lambda: vault.list_kv_metadata(metadata.id))
    expect_raises(NotFoundError, lambda: vault.delete_kv(metadata.id))
    reused = vault.create_kv(name=f"{PREFIX}/db password", value="new", key_context=CONTEXT)
    expect(reused.id != metadata.id, "a new object")


@check("errors carry the request id and a message")
def _() -> None:
    error = expect_raises(NotFoundError, lambda: vault.get_kv("no-such-object"))
    expect(bool(error.request_id), "x-request-id")
    expect(error.status_code == 404 and error.message, f"{error.status_code} {error.message}")
    expect(error.code == "not_found", f"code {error.code}")


@check("an invalid key context raises UnprocessableEntityError naming the rule")
def _() -> None:
    error = expect_raises(UnprocessableEntityError, lambda: vault.create_data_key(context={}))
    expect("at least 1 pair" in (error.error or error.message), f"{error.error} {error.message}")
    many = {f"key{index}": "v" for index in range(11)}
    expect_raises(UnprocessableEntityError, lambda: vault.create_data_key(context=many))


@check("create_data_key, create_decrypt and create_rekey")
def _() -> None:
    issued = vault.create_data_key(context=CONTEXT)
    expect(len(base64.b64decode(issued.data_key)) == 32, "a 32-byte key")
    expect(issued.context == CONTEXT, "context")
    decrypted = vault.create_decrypt(keys=issued.encrypted_keys)
    expect(decrypted.id == issued.id and decrypted.data_key == issued.data_key, "the same key")
    rekeyed = vault.create_rekey(context={"organization_id": "org_other"}, encrypted_keys=issued.encrypted_keys)
    expect(rekeyed.id == issued.id and rekeyed.data_key == issued.data_key, "the same key, re-wrapped")
    expect(rekeyed.encrypted_keys != issued.encrypted_keys, "new wrapped keys")
    expect(vault.create_decrypt(keys=rekeyed.encrypted_keys).data_key == issued.data_key, "rekeyed keys open")
    expect_raises(BadRequestError, lambda: vault.create_decrypt(keys="not base64!"))


@check("encrypt and decrypt round trip (with and without associated data, and the empty string)")
def _() -> None:
    for plaintext, associated in (("attack at dawn ✓", None), ("with aad", "tenant-1"), ("", None)):
        blob = vault.encrypt(data=plaintext, key_context=CONTEXT, associated_data=associated)
        expect(vault.decrypt(encrypted_data=blob, associated_data=associated) == plaintext, repr(plaintext))
    blob = vault.encrypt(data="bound", key_context=CONTEXT, associated_data="right")
    try:
        vault.decrypt(encrypted_data=blob, associated_data="wrong")
    except Exception:  # noqa: BLE001 - cryptography's InvalidTag
        pass
    else:
        raise AssertionError("wrong associated data must not decrypt")


@check("a wrong API key raises AuthenticationError")
def _() -> None:
    other = WorkOSClient(api_key="sk_test_not_accepted", max_retries=0)
    expect_raises(AuthenticationError, lambda: other.vault.list_kv())
    expect_raises(AuthenticationError, lambda: other.vault.create_data_key(context=CONTEXT))


EVENT_TYPES = [
    "vault.data.created",
    "vault.data.updated",
    "vault.data.read",
    "vault.data.deleted",
    "vault.metadata.read",
    "vault.names.listed",
    "vault.kek.created",
    "vault.kek.deleted",
    "vault.dek.read",
    "vault.dek.decrypted",
    "vault.dek.rekeyed",
    "vault.byok_key.verification_completed",
    "vault.byok_key.deleted",
]


@check("events: a scripted sequence is listed by client.events.list_events with the SDK's models, in order")
def _() -> None:
    organization = f"org_events_{uuid.uuid4().hex[:8]}"
    context = {"organization_id": organization}
    secret = f"event-secret-{uuid.uuid4().hex}"
    # Every earlier event is at least a millisecond older than `start` (the server stores milliseconds).
    time.sleep(0.01)
    now = datetime.now(timezone.utc)
    start = now.replace(microsecond=now.microsecond // 1000 * 1000).isoformat()
    created = vault.create_kv(name=f"{PREFIX}-events", value=secret, key_context=context)
    vault.get_kv(created.id)
    updated = vault.update_kv(created.id, value=secret + "-2")
    vault.list_kv(search=f"{PREFIX}-events")
    vault.list_kv_metadata(created.id)
    vault.delete_kv(created.id)
    issued = vault.create_data_key(context=context)
    vault.create_decrypt(keys=issued.encrypted_keys)
    rekeyed = vault.create_rekey(context=context, encrypted_keys=issued.encrypted_keys)

    listed = list(
        client.events.list_events(events=EVENT_TYPES, range_start=start, order="asc", limit=3).auto_paging_iter()
    )
    types = [event.event for event in listed]
    expected = [
        "vault.kek.created",
        "vault.data.created",
        "vault.data.read",
        "vault.data.updated",
        "vault.names.listed",
        "vault.metadata.read",
        "vault.data.deleted",
        "vault.dek.read",
        "vault.dek.decrypted",
        "vault.dek.rekeyed",
    ]
    expect(types == expected, f"types {types}")
    expect(all(type(event).__name__.startswith("Vault") for event in listed), "the SDK's Vault event models")
    expect(len({event.id for event in listed}) == len(listed), "distinct ids (pagination repeats none)")
    for event in listed:
        expect(event.object == "event" and event.id.startswith("event_"), f"{event.object} {event.id}")
        expect(event.created_at.tzinfo is not None, "created_at is an aware datetime")
        expect(event.data.actor_source == "api", f"actor_source {event.data.actor_source}")
        expect(event.data.actor_id.startswith("key_"), f"actor_id {event.data.actor_id}")
        expect(event.data.actor_name.startswith("sk_"), f"actor_name {event.data.actor_name}")
    kek, data_created, data_read, data_updated, _, metadata_read, data_deleted, dek_read, dek_decrypted, dek_rekeyed = (
        listed
    )
    expect(kek.data.key_name == f"organization_id:{organization}" and kek.data.key_id, "kek fields")
    expect(data_created.data.kv_name == f"{PREFIX}-events", "kv_name")
    expect(data_created.data.key_id == created.key_id and data_created.data.key_context == context, "created fields")
    expect(data_read.data.key_id == created.key_id, "read key_id")
    expect(data_updated.data.key_id == updated.metadata.key_id, "updated key_id")
    expect(metadata_read.data.kv_name == data_deleted.data.kv_name == f"{PREFIX}-events", "names")
    expect(dek_read.data.key_ids == [issued.id] and dek_read.data.key_context == context, "dek.read fields")
    expect(dek_decrypted.data.key_id == issued.id, "dek.decrypted key_id")
    expect(dek_rekeyed.data.key_ids == [rekeyed.id], "dek.rekeyed key_ids")

    text = json.dumps([event.to_dict() for event in listed])
    for value in (secret, secret + "-2", issued.data_key, issued.encrypted_keys, rekeyed.encrypted_keys):
        expect(value not in text, "no value, data key or encrypted keys in any event")

    newest = client.events.list_events(events=EVENT_TYPES, range_start=start)
    expect([event.id for event in newest.data] == [event.id for event in reversed(listed)], "newest first by default")
    ours = client.events.list_events(events=EVENT_TYPES, range_start=start, organization_id=organization, limit=100)
    expect(
        sorted(event.event for event in ours.data)
        == sorted(set(expected) - {"vault.names.listed", "vault.dek.decrypted"}),
        f"organization filter {[event.event for event in ours.data]}",
    )
    expect_raises(UnprocessableEntityError, lambda: client.events.list_events(events=[]))


print(f"python-sdk-interop: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
