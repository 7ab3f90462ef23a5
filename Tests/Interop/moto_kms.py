"""Creates and revokes AWS KMS keys in a moto_server through boto3, for the BYOK tests.

Usage: moto_kms.py ENDPOINT create            prints the new key's ARN
       moto_kms.py ENDPOINT disable ARN       DisableKey
       moto_kms.py ENDPOINT enable ARN        EnableKey
       moto_kms.py ENDPOINT schedule-deletion ARN
       moto_kms.py ENDPOINT ready             exits 0 once the server answers
Credentials and region are moto's test values; moto accepts any. DisableKey, EnableKey and
ScheduleKeyDeletion get the bare key id: moto 5.2.1 looks those up by id only (AWS takes an ARN too).
"""

import sys

import boto3


def main() -> None:
    endpoint, action = sys.argv[1], sys.argv[2]
    kms = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key_id = sys.argv[3].rsplit("/", 1)[-1] if len(sys.argv) > 3 else None
    if action == "create":
        key = kms.create_key(Description="vault BYOK test", KeyUsage="ENCRYPT_DECRYPT")
        print(key["KeyMetadata"]["Arn"])
    elif action == "disable":
        kms.disable_key(KeyId=key_id)
    elif action == "enable":
        kms.enable_key(KeyId=key_id)
    elif action == "schedule-deletion":
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    elif action == "ready":
        kms.list_keys(Limit=1)
    else:
        sys.exit(f"unknown action {action}")


if __name__ == "__main__":
    main()
