"""Ports for the local stack's processes."""

from devstack.ports import free_ports


def test_ports_asked_together_are_distinct():
    """One at a time, the system may hand a just-released port out twice (a stack once got the
    same port for Azurite's queue and table services)."""
    for _ in range(50):
        ports = free_ports(5)
        assert len(set(ports)) == 5
