"""Pod name -> service name: the replica hashes Kubernetes appends are stripped.

A Deployment's pod is ``<service>-<replica-set hash>-<pod hash>`` (``basket-579f59597d-wc2lz``), a
StatefulSet's ``<service>-<ordinal>`` (``kv-store-0``). Anything else is taken as the service's
name itself. Two pods of one service (replicas, or a pod restarted under a new name) map to the
same service and are aggregated by the reader.
"""

from __future__ import annotations

import re

__all__ = ["service_of"]

# Kubernetes' replica-set hashes are 6-10 and pod suffixes 5 characters of [a-z0-9].
_DEPLOYMENT = re.compile(r"^(?P<service>.+?)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_STATEFUL = re.compile(r"^(?P<service>.+?)-\d{1,4}$")


def service_of(pod: str) -> str:
    """The service a pod belongs to (``"basket-579f59597d-wc2lz"`` -> ``"basket"``)."""
    pod = pod.strip()
    for pattern in (_DEPLOYMENT, _STATEFUL):
        m = pattern.match(pod)
        if m:
            return m.group("service")
    return pod
