# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's message in the words of the prepare role's user: role variables, and the Azure sources tried.

Kept apart from ``_prepare`` so that cmg_report, which words the report for the role, carries only this file.
Pure Python, no Ansible.
"""

from __future__ import annotations

import re

# Module option -> role variable, for messages a role user reads. Longest first, whole words only.
ROLE_WORDS: tuple[tuple[str, str], ...] = (
    ("give them with the nameservers option", "give them as cmg_dns_nameservers"),
    ("give the servers with the nameservers option", "give the servers as cmg_dns_nameservers"),
    ("the nameservers option", "cmg_dns_nameservers"),
    ("previous_certificate", "cmg_previous_certificate"),
    ("min_days_remaining", "cmg_min_days_remaining"),
    ("content_enabled", "cmg_content_enabled"),
    ("resource_group", "cmg_dns_resource_group"),
    ("key_algorithm", "cmg_dns_key_algorithm"),
    ("nameservers", "cmg_dns_nameservers"),
    ("wait_timeout", "cmg_dns_wait_timeout"),
    ("on_conflict", "cmg_dns_on_conflict"),
    ("ca_bundle", "cmg_ca_bundle"),
    ("key_name", "cmg_dns_key_name"),
    ("key_secret", "cmg_dns_key_secret"),
    ("service_name", "cmg_service_name"),
    ("trust=", "cmg_trust="),
    ("fail_on", "cmg_fail_on"),
)
AZURE_SOURCES = ("AZURE_CLIENT_ID, AZURE_SECRET and AZURE_TENANT (a service principal, as AWX's Azure credential "
                 "injects them)", "AZURE_PROFILE or the [default] profile of ~/.azure/credentials",
                 "the Azure CLI login (az)", "a managed identity (the last resort: none answered)")
_NO_CREDENTIAL = re.compile(r"no Azure subscription given|no Azure credential|could not find .*credential|"
                            r"auth_source (msi|auto|env|cli|credential_file)", re.IGNORECASE)


def role_words(message: object) -> str:
    """A module's message in the role's words, and what to try when no Azure credential was found."""
    text = str(message or "")
    for module_word, role_word in ROLE_WORDS:
        if module_word.endswith("="):
            text = text.replace(module_word, role_word)
            continue
        text = re.sub(rf"(?<![\w.$-]){re.escape(module_word)}(?![\w-])", role_word, text)
    text = re.sub(r"set (?:cmg_)?subscription_id or AZURE_SUBSCRIPTION_ID", "set AZURE_SUBSCRIPTION_ID", text)
    if _NO_CREDENTIAL.search(text):
        text = re.sub(r"\s*\(auth_source \w+\)", "", text)
        text += ("; tried: " + ", ".join(AZURE_SOURCES)
                 + "; without Azure credentials, cmg_name_check_method: dns checks the names through DNS only")
    return text
