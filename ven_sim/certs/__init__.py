"""Certificates: a local CA for the embedded broker (`local_ca`) and AWS IoT Core device
certificates (`aws`).

Both need cryptography, and `aws` boto3 too, so nothing is re-exported here: import from
the module, inside the command that needs it, and `ven-sim --help` stays cheap.
"""

__all__: list[str] = []
