# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Azure regions a CMG can be deployed in, for both clouds: the one data file of regions.

Each entry is ``canonical name: (display name, geography)``, as ``az account list-locations``
shows them (``name``, ``displayName``, and the geography of ``regionalDisplayName``, which reads
``(US) West US``). Logical regions (``eastusstg``, ``*euap``) are left out: nothing deploys there.
Kept as a Python module, not JSON, so that it travels with modules inside AnsiballZ.
"""

from __future__ import annotations

REGIONS: dict[str, dict[str, tuple[str, str]]] = {
    "AzureCloud": {
        "australiacentral": ("Australia Central", "Asia Pacific"),
        "australiacentral2": ("Australia Central 2", "Asia Pacific"),
        "australiaeast": ("Australia East", "Asia Pacific"),
        "australiasoutheast": ("Australia Southeast", "Asia Pacific"),
        "austriaeast": ("Austria East", "Europe"),
        "belgiumcentral": ("Belgium Central", "Europe"),
        "brazilsouth": ("Brazil South", "South America"),
        "brazilsoutheast": ("Brazil Southeast", "South America"),
        "canadacentral": ("Canada Central", "Canada"),
        "canadaeast": ("Canada East", "Canada"),
        "centralindia": ("Central India", "Asia Pacific"),
        "centralus": ("Central US", "US"),
        "chilecentral": ("Chile Central", "South America"),
        "eastasia": ("East Asia", "Asia Pacific"),
        "eastus": ("East US", "US"),
        "eastus2": ("East US 2", "US"),
        "francecentral": ("France Central", "Europe"),
        "francesouth": ("France South", "Europe"),
        "germanynorth": ("Germany North", "Europe"),
        "germanywestcentral": ("Germany West Central", "Europe"),
        "indonesiacentral": ("Indonesia Central", "Asia Pacific"),
        "israelcentral": ("Israel Central", "Middle East"),
        "italynorth": ("Italy North", "Europe"),
        "japaneast": ("Japan East", "Asia Pacific"),
        "japanwest": ("Japan West", "Asia Pacific"),
        "jioindiacentral": ("Jio India Central", "Asia Pacific"),
        "jioindiawest": ("Jio India West", "Asia Pacific"),
        "koreacentral": ("Korea Central", "Asia Pacific"),
        "koreasouth": ("Korea South", "Asia Pacific"),
        "malaysiawest": ("Malaysia West", "Asia Pacific"),
        "mexicocentral": ("Mexico Central", "Mexico"),
        "newzealandnorth": ("New Zealand North", "Asia Pacific"),
        "northcentralus": ("North Central US", "US"),
        "northeurope": ("North Europe", "Europe"),
        "norwayeast": ("Norway East", "Europe"),
        "norwaywest": ("Norway West", "Europe"),
        "polandcentral": ("Poland Central", "Europe"),
        "qatarcentral": ("Qatar Central", "Middle East"),
        "southafricanorth": ("South Africa North", "Africa"),
        "southafricawest": ("South Africa West", "Africa"),
        "southcentralus": ("South Central US", "US"),
        "southeastasia": ("Southeast Asia", "Asia Pacific"),
        "southindia": ("South India", "Asia Pacific"),
        "spaincentral": ("Spain Central", "Europe"),
        "swedencentral": ("Sweden Central", "Europe"),
        "switzerlandnorth": ("Switzerland North", "Europe"),
        "switzerlandwest": ("Switzerland West", "Europe"),
        "uaecentral": ("UAE Central", "Middle East"),
        "uaenorth": ("UAE North", "Middle East"),
        "uksouth": ("UK South", "Europe"),
        "ukwest": ("UK West", "Europe"),
        "westcentralus": ("West Central US", "US"),
        "westeurope": ("West Europe", "Europe"),
        "westindia": ("West India", "Asia Pacific"),
        "westus": ("West US", "US"),
        "westus2": ("West US 2", "US"),
        "westus3": ("West US 3", "US"),
    },
    "AzureUSGovernment": {
        "usdodcentral": ("USDoD Central", "US"),
        "usdodeast": ("USDoD East", "US"),
        "usgovarizona": ("USGov Arizona", "US"),
        "usgovtexas": ("USGov Texas", "US"),
        "usgovvirginia": ("USGov Virginia", "US"),
    },
}
