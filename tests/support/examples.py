"""Expected values shared by tests of several layers (module_utils, filter, a real playbook run)."""

# Every name the naming rules derive for the seed example of the Microsoft article:
# GraniteFalls.contoso.com in West US, content-enabled, zone contoso.com.
GRANITEFALLS_NAMES = {
    "service_name": "GraniteFalls.contoso.com",
    "prefix": "GraniteFalls",
    "dns_label": "granitefalls",
    "deployment_name": "granitefalls.westus.cloudapp.azure.com",
    "key_vault_name": "granitefalls",
    "storage_account_name": "granitefalls",
    "cname_required": True,
    "record_name": "granitefalls",
    "zone": "contoso.com",
    "region": "westus",
    "cloud_environment": "AzureCloud",
    "method": "vmss",
    "problems": [],
}
