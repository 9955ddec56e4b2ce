# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox's Azure DNS routes: ARM's checks (api-version 2018-05-01 unless a preview is seeded, subscription) come before any zone lookup,
and zones answer in the shape of Microsoft's dns_zones_get.json example."""

from __future__ import annotations

import pytest

from tests.support.azure_sandbox import AzureSandbox
from tests.support.azure_sandbox import dns as sandbox_dns
from tests.unit.support.test_azure_sandbox_core import bearer, send

GOOD = AzureSandbox.subscription_id
WRONG = "99999999-1111-2222-3333-444444444444"
GROUP = "/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones"
#: Every DNS route, against the existing zone contoso.com and its CNAME record set granitefalls.
ROUTES = [
    ("GET", "/subscriptions/{sub}/providers/Microsoft.Network/dnszones"),
    ("GET", "/subscriptions/{sub}" + GROUP),
    ("GET", "/subscriptions/{sub}" + GROUP + "/contoso.com"),
    ("GET", "/subscriptions/{sub}" + GROUP + "/contoso.com/recordsets"),
    ("GET", "/subscriptions/{sub}" + GROUP + "/contoso.com/all"),
    ("GET", "/subscriptions/{sub}" + GROUP + "/contoso.com/CNAME/granitefalls"),
    ("PUT", "/subscriptions/{sub}" + GROUP + "/contoso.com/CNAME/granitefalls"),
    ("DELETE", "/subscriptions/{sub}" + GROUP + "/contoso.com/CNAME/granitefalls"),
]
CNAME = {"properties": {"TTL": 300, "CNAMERecord": {"cname": "granitefalls.westus.cloudapp.azure.com"}}}


@pytest.fixture
def sb(azure_sandbox: AzureSandbox) -> AzureSandbox:
    sandbox_dns.add_zone(azure_sandbox, "contoso.com")
    sandbox_dns.put_record(azure_sandbox, "contoso.com", "granitefalls", "CNAME", CNAME["properties"])
    return azure_sandbox


def _send(sb: AzureSandbox, method: str, path: str, query: str) -> tuple[int, dict]:
    return send(sb, method, path + query, CNAME if method == "PUT" else None, headers=bearer(sb))


@pytest.mark.parametrize("method, path", ROUTES)
def test_wrong_subscription_is_refused_even_for_an_existing_zone(sb: AzureSandbox, method: str, path: str) -> None:
    status, body = _send(sb, method, path.format(sub=WRONG), "?api-version=2018-05-01")
    assert (status, body["error"]["code"]) == (404, "SubscriptionNotFound")
    assert sandbox_dns.get_record(sb, "contoso.com", "granitefalls")["properties"]["TTL"] == 300


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("query, code, message", [
    ("?api-version=2023-07-01-preview", "InvalidApiVersionParameter",
     "The api-version '2023-07-01-preview' is invalid. The supported api-versions are '2018-05-01'."),
    ("?api-version=2018-5-1", "InvalidApiVersionParameter",
     "The api-version '2018-5-1' is invalid. The supported api-versions are '2018-05-01'."),
    ("", "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."),
])
def test_api_version_must_be_2018_05_01(sb: AzureSandbox, method: str, path: str, query: str, code: str, message: str) -> None:
    status, body = _send(sb, method, path.format(sub=GOOD), query)
    assert (status, body) == (400, {"error": {"code": code, "message": message}})
    assert sandbox_dns.get_record(sb, "contoso.com", "granitefalls")["properties"]["TTL"] == 300


@pytest.mark.parametrize("method, path", ROUTES)
def test_right_subscription_and_api_version_are_served(sb: AzureSandbox, method: str, path: str) -> None:
    assert _send(sb, method, path.format(sub=GOOD), "?api-version=2018-05-01")[0] == 200


def test_zone_name_servers_have_no_trailing_dots(sb: AzureSandbox) -> None:
    """As in Microsoft's dns_zones_get.json example."""
    status, body = _send(sb, "GET", f"/subscriptions/{GOOD}{GROUP}/contoso.com", "?api-version=2018-05-01")
    assert (status, body["properties"]["nameServers"]) == (200, ["ns1-01.azure-dns.com", "ns2-01.azure-dns.net",
                                                                 "ns3-01.azure-dns.org", "ns4-01.azure-dns.info"])


@pytest.mark.parametrize("path", ["/subscriptions/{sub}/providers/Microsoft.Network/dnszones", "/subscriptions/{sub}" + GROUP])
def test_zone_listing_pages_follow_next_link(sb: AzureSandbox, path: str) -> None:
    """Zones_List / ListByResourceGroup: pages of $top zones (or the page size), each linking the next by an absolute
    https nextLink with the api-version and an opaque $skipToken; the last page has no nextLink."""
    from urllib.parse import urlsplit

    for name in ("a.contoso.com", "b.contoso.com"):
        sandbox_dns.add_zone(sb, name)
    sandbox_dns.set_zone_page_size(sb, 2)
    names, link, pages = [], f"{sb.url}{path.format(sub=GOOD)}?api-version=2018-05-01", 0
    while link:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == sb.url
        status, body = _send(sb, "GET", parts.path, "?" + parts.query)
        assert status == 200, body
        names += [zone["name"] for zone in body["value"]]
        link, pages = body.get("nextLink"), pages + 1
    assert (sorted(names), pages) == (["a.contoso.com", "b.contoso.com", "contoso.com"], 2)
    status, body = _send(sb, "GET", path.format(sub=GOOD), "?api-version=2018-05-01&$top=1")
    assert (len(body["value"]), "$top=1" in body["nextLink"], "$skipToken=" in body["nextLink"]) == (1, True, True)


PREVIEW = "?api-version=2023-07-01-preview"


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_seeded_preview_api_version_is_served_as_2018_05_01(sb: AzureSandbox, method: str, path: str) -> None:
    """azure.azcollection's DnsManagementClient sends 2023-07-01-preview (tests/benchmarks/azcollection.py): allowed by the
    ``dns_api_versions`` seed, every DNS route answers it as 2018-05-01 (Microsoft's preview GetZone.json and
    GetCNAMERecordset.json have the stable bodies), and the next test's default refuses it again."""
    sb.seed({"dns_api_versions": ["2023-07-01-preview"]})
    preview = _send(sb, method, path.format(sub=GOOD), PREVIEW)
    assert preview[0] == 200
    if method == "GET":
        assert preview[1] == _send(sb, method, path.format(sub=GOOD), "?api-version=2018-05-01")[1]
    else:
        assert (sandbox_dns.get_record(sb, "contoso.com", "granitefalls") is None) is (method == "DELETE")
    status, body = _send(sb, method, path.format(sub=GOOD), "?api-version=2023-04-01-preview")
    assert (status, body["error"]["code"]) == (400, "InvalidApiVersionParameter")
    assert _send(sb, method, path.format(sub=WRONG), PREVIEW)[1]["error"]["code"] == "SubscriptionNotFound"


def test_the_preview_cname_reads_as_microsofts_example(sb: AzureSandbox) -> None:
    sb.seed({"dns_api_versions": ["2023-07-01-preview"]})
    status, body = _send(sb, "GET", f"/subscriptions/{GOOD}{GROUP}/contoso.com/CNAME/granitefalls", PREVIEW)
    assert status == 200
    assert set(body) == {"id", "etag", "name", "type", "properties"}
    assert (body["type"], body["properties"]["TTL"], body["properties"]["fqdn"], body["properties"]["CNAMERecord"]) == (
        "Microsoft.Network/dnsZones/CNAME", 300, "granitefalls.contoso.com", {"cname": "granitefalls.westus.cloudapp.azure.com"})


def test_the_preview_is_refused_again_after_a_reset(sb: AzureSandbox) -> None:
    sb.seed({"dns_api_versions": ["2023-07-01-preview"]})
    sb.reset()
    sandbox_dns.add_zone(sb, "contoso.com")
    status, body = _send(sb, "GET", f"/subscriptions/{GOOD}{GROUP}/contoso.com", PREVIEW)
    assert (status, body["error"]["code"]) == (400, "InvalidApiVersionParameter")


def test_only_a_preview_with_known_shapes_can_be_seeded(azure_sandbox: AzureSandbox) -> None:
    with pytest.raises(ValueError, match="know no api-version"):
        azure_sandbox.seed({"dns_api_versions": ["2099-01-01-preview"]})
