"""Shared test machinery: the local Azure sandbox, a real BIND server, the PKI corpus, Ansible runs."""
