# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the Azure access options shared by every Azure-facing module."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """``extends_documentation_fragment: configmgr.cmg._azure``."""

    DOCUMENTATION = r"""
attributes:
  action_group:
    description:
      - Use C(group/configmgr.cmg.azure) in C(module_defaults) to set the Azure access options (O(auth_source),
        O(subscription_id), O(client_id), O(secret), O(tenant), O(cloud_environment)...) once for every Azure module
        of the collection.
    support: full
    membership:
      - configmgr.cmg.azure
options:
  auth_source:
    description:
      - Where the credential comes from.
      - V(auto) takes the first that applies, in this order - a complete service principal in the options
        (O(client_id), O(secret), O(tenant)); a O(profile) option; a complete service principal from options and
        environment variables; E(AZURE_PROFILE) or a C([default]) section of C(~/.azure/credentials); the Azure CLI
        (C(az) on E(PATH)); a managed identity.
      - V(env) is the service principal of the options and the environment variables; V(credential_file) a section
        of C(~/.azure/credentials) (keys C(subscription_id), C(client_id), C(secret), C(tenant) and optionally
        C(cloud_environment)); V(cli) the account signed in to the Azure CLI; V(msi) a managed identity
        (user-assigned when O(client_id) is set).
      - The result's C(auth_source_used) says which source was used (C(options), C(env), C(credential_file),
        C(cli) or C(msi)), never the secret.
      - When not set, E(ANSIBLE_AZURE_AUTH_SOURCE), else V(auto).
    type: str
    choices: [auto, env, cli, credential_file, msi]
  subscription_id:
    description:
      - The Azure subscription to work in.
      - When not set, E(AZURE_SUBSCRIPTION_ID), then the credentials file section, then the Azure CLI's default
        subscription.
    type: str
  client_id:
    description:
      - The application (client) id of the service principal, or of a user-assigned managed identity with
        O(auth_source=msi).
      - When not set, E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - The client secret of the service principal.
      - When not set, E(AZURE_SECRET), else E(AZURE_CLIENT_SECRET).
    type: str
  tenant:
    description:
      - The Microsoft Entra tenant (directory) id.
      - When not set, E(AZURE_TENANT), else E(AZURE_TENANT_ID).
    type: str
  profile:
    description:
      - The section of C(~/.azure/credentials) to read (the azure.azcollection format).
      - When not set, E(AZURE_PROFILE), else C(default).
    type: str
  cloud_environment:
    description:
      - V(AzureCloud), V(AzureUSGovernment), or the https URL of a Resource Manager endpoint (Azure Stack Hub,
        private clouds).
      - For a URL, the login endpoint and token audience are read from C(<url>/metadata/endpoints) (both the 2015
        single-object and the 2019+ list form), MSAL instance discovery is turned off, and the URL is the base URL
        of every request. Names follow AzureCloud's domains unless the metadata names the cloud AzureUSGovernment.
      - The metadata is read over https without following redirects (it chooses where the client secret goes),
        up to 1 MiB; a login endpoint that is not https is refused.
      - TLS is always verified; give a corporate CA bundle through E(REQUESTS_CA_BUNDLE), which must name a
        readable file (or directory).
      - When not set, E(AZURE_CLOUD_ENVIRONMENT), then the credentials file section, else V(AzureCloud).
    type: str
notes:
  - The environment variables are those the AWX/AAP "Microsoft Azure Resource Manager" credential injects.
    An explicit option always wins over its variable.
  - Requests throttled (HTTP 429) or failed by the service (5xx) are retried by azure-core, honouring the
    C(Retry-After) the service sends (up to 30 s each), at most 4 times, and the waits of one request stay
    within 120 s. Redirects are followed only from https to https; the token and metadata requests follow none.
    See the collection's C(docs/reliability.md).
  - The permissions a service principal needs are listed in the collection's C(docs/permissions.md).
requirements:
  - azure-identity >= 1.16.0
"""
