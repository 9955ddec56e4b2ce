"""Unit tests of the deployment readiness logic, against the local Azure sandbox (real SDK over HTTPS)."""

from __future__ import annotations

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._errors import AzureError, NamingError
from ansible_collections.configmgr.cmg.plugins.module_utils._readiness import (
    COMPUTE_API_VERSION, PROVIDERS_API_VERSION, REQUIRED_PROVIDERS, Waiter, check_inputs, readiness,
)

SUB = "/subscriptions/00000000-1111-2222-3333-444444444444"
VMSS = f"{SUB}/resourceGroups/rg-cmg/providers/Microsoft.Compute/virtualMachineScaleSets/granitefalls"
FIX = (f"az provider register --namespace Microsoft.KeyVault --subscription {SUB.rsplit('/', maxsplit=1)[-1]}, or set register: true "
       "(role: cmg_register_providers: true)")


class FakeTime:
    """An injected clock: sleeping advances it, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def waiter(self) -> Waiter:
        return Waiter(clock=lambda: self.now, sleep=self.sleep)


@pytest.fixture
def env(azure_sandbox, monkeypatch):
    """The sandbox environment (REQUESTS_CA_BUNDLE also set in this process for the SDK)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", azure_sandbox.ca_file)
    return azure_sandbox.env()


def _check(result, name):
    return next(check for check in result["checks"] if check["name"] == name)


def _run(env, waiter=None, check_mode=False, **options):
    return readiness(dict({"prefix": "GraniteFalls", "region": "West US"}, **options), check_mode=check_mode,
                     environ=env, waiter=waiter or FakeTime().waiter())


def test_all_registered_and_default_quota_pass(azure_sandbox, env):
    result = _run(env)
    assert (result["ready"], result["changed"]) == (True, False)
    assert [(c["name"], c["status"]) for c in result["checks"]] == [
        ("provider Microsoft.Compute", "pass"), ("provider Microsoft.Network", "pass"),
        ("provider Microsoft.Storage", "pass"), ("provider Microsoft.KeyVault", "pass"),
        ("quota cores", "pass"), ("quota standardAv2Family", "pass")]
    assert _check(result, "quota standardAv2Family")["message"] == (
        "1 x Standard_A2_v2 (2 vCPUs each) = 2 vCPUs in westus fit: Standard Av2 Family vCPUs (standardAv2Family): "
        "0 of 100 in use")
    assert result["vm"] == {"choice": "standard", "size": "Standard_A2_v2", "vcpus": 2, "family": "standardAv2Family", "instances": 1,
                            "required_vcpus": 2}
    assert result["note"] == "no resource_group given: the existing scale set was not looked for"
    assert result["msg"] == "the subscription can deploy the CMG"
    sent = sorted((r.method, r.path, r.query["api-version"]) for r in azure_sandbox.arm_requests())
    assert sent == sorted([("GET", f"{SUB}/providers/{namespace}", PROVIDERS_API_VERSION) for namespace in REQUIRED_PROVIDERS]
                          + [("GET", f"{SUB}/providers/Microsoft.Compute/locations/westus/usages", COMPUTE_API_VERSION)])
    assert azure_sandbox.writes() == [] and len(azure_sandbox.token_requests()) == 1


@pytest.mark.parametrize("state, status", [("Registering", "warn"), ("NotRegistered", "fail"), ("Unregistered", "fail")])
def test_provider_states(azure_sandbox, env, state, status):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": state}, "registering_polls": 99}})
    result = _run(env)
    check = _check(result, "provider Microsoft.KeyVault")
    assert (check["status"], result["ready"], result["providers"]["Microsoft.KeyVault"]) == (status, status != "fail", state)
    if status == "fail":
        assert check == {"name": "provider Microsoft.KeyVault", "status": "fail", "fix": FIX,
                         "message": f"Microsoft.KeyVault is {state} in subscription {SUB.rsplit('/', maxsplit=1)[-1]}: a CMG "
                                    "deployment needs it Registered"}
        assert result["msg"] == f"the subscription cannot deploy the CMG: {check['message']} (fix: {FIX})"
    else:
        assert check["message"] == ("Microsoft.KeyVault is Registering: the deployment fails until it is Registered "
                                    "(usually a few minutes)")
    assert [r for r in azure_sandbox.arm_requests() if r.method == "POST"] == []


def test_register_waits_with_injected_sleeps(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered",
                                                    "Microsoft.Storage": "Unregistered"}, "registering_polls": 2}})
    clock = FakeTime()
    result = _run(env, waiter=clock.waiter(), register=True)
    assert (result["ready"], result["changed"]) == (True, True)
    assert _check(result, "provider Microsoft.KeyVault")["message"] == "Microsoft.KeyVault is Registered"
    assert result["diff"] == {
        "before": {"providers": {"Microsoft.Compute": "Registered", "Microsoft.Network": "Registered",
                                 "Microsoft.Storage": "Unregistered", "Microsoft.KeyVault": "NotRegistered"}},
        "after": {"providers": dict.fromkeys(REQUIRED_PROVIDERS, "Registered")}}
    posts = sorted(r.path for r in azure_sandbox.arm_requests() if r.method == "POST")
    assert posts == [f"{SUB}/providers/Microsoft.KeyVault/register", f"{SUB}/providers/Microsoft.Storage/register"]
    assert sorted(clock.sleeps) == [2.0, 2.0, 4.0, 4.0]  # two Registering reads each, backing off
    again = _run(env, register=True)
    assert (again["changed"], again["ready"]) == (False, True)
    assert len([r for r in azure_sandbox.arm_requests() if r.method == "POST"]) == 2


def test_register_timeout_warns(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered"}, "registering_polls": 1000}})
    clock = FakeTime()
    result = _run(env, waiter=clock.waiter(), register=True, register_timeout=20)
    check = _check(result, "provider Microsoft.KeyVault")
    assert (check["status"], result["changed"], result["ready"]) == ("warn", True, True)
    assert check["message"].startswith("Microsoft.KeyVault is still Registering after 20 s: ")
    assert clock.sleeps == [2.0, 4.0, 8.0, 6.0] and clock.now == 20.0


def test_register_in_check_mode_sends_nothing(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.KeyVault": "NotRegistered"}}})
    result = _run(env, check_mode=True, register=True)
    check = _check(result, "provider Microsoft.KeyVault")
    assert (result["changed"], result["ready"], check["status"]) == (True, True, "warn")
    assert check["message"] == "Microsoft.KeyVault is NotRegistered: it would be registered (check mode)"
    assert result["providers"]["Microsoft.KeyVault"] == "NotRegistered"
    assert result["diff"]["after"]["providers"]["Microsoft.KeyVault"] == "Registered"
    assert [r for r in azure_sandbox.arm_requests() if r.method != "GET"] == []


def test_sixteen_large_against_twenty_vcpus(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"usages": {"westus": {"standardAv2Family": [0, 20]}}}})
    result = _run(env, vm_size="large", vm_instances=16)
    assert result["ready"] is False
    assert _check(result, "quota cores")["status"] == "pass"
    assert _check(result, "quota standardAv2Family") == {
        "name": "quota standardAv2Family", "status": "fail",
        "message": "16 x Standard_A4_v2 (4 vCPUs each) = 64 vCPUs in westus do not fit the family quota: Standard Av2 "
                   "Family vCPUs (standardAv2Family): 0 of 20 in use, 20 free",
        "fix": "raise the standardAv2Family vCPU limit in westus to 64 or more (quota request: "
               "https://learn.microsoft.com/azure/quotas/per-vm-quota-requests), or choose a smaller vm_size or fewer "
               "vm_instances"}
    fitting = _run(env, vm_size="large", vm_instances=5)
    assert (fitting["ready"], _check(fitting, "quota standardAv2Family")["status"]) == (True, "pass")


def test_regional_quota_and_lab_family(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"usages": {"westus": {"cores": [8, 10], "standardBSFamily": [0, 4]}}}})
    result = _run(env, vm_size="lab", vm_instances=3)
    assert [(c["name"], c["status"]) for c in result["checks"][4:]] == [("quota cores", "fail"),
                                                                        ("quota standardBSFamily", "fail")]
    assert _check(result, "quota cores")["message"] == (
        "3 x Standard_B2s (2 vCPUs each) = 6 vCPUs in westus do not fit the regional quota: Total Regional vCPUs "
        "(cores): 8 of 10 in use, 2 free")
    assert "regional-quota-requests" in _check(result, "quota cores")["fix"]


def test_missing_usage_warns(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"usages": {"eastus": {"cores": [0, 100]}}}})
    result = _run(env, region="eastus")
    assert _check(result, "quota standardAv2Family")["status"] == "pass"  # defaults of the sandbox region
    azure_sandbox.fault("GET", r".*/locations/westus/usages", 200, body={"value": [
        {"unit": "Count", "currentValue": 0, "limit": 100, "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}}]})
    result = _run(env)
    assert _check(result, "quota standardAv2Family") == {
        "name": "quota standardAv2Family", "status": "warn", "fix": "az vm list-usage --location westus",
        "message": "Azure lists no standardAv2Family usage in westus: the vCPU quota for 1 x Standard_A2_v2 (2 vCPUs "
                   "each) = 2 vCPUs in westus is unknown"}


def test_existing_scale_set_reported_and_its_vcpus_counted(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {
        "usages": {"westus": {"cores": [4, 10], "standardAv2Family": [4, 10]}},
        "scale_sets": [{"name": "GraniteFalls", "resource_group": "rg-cmg", "location": "West US",
                        "size": "Standard_A2_v2", "capacity": 2}]}})
    result = _run(env, resource_group="rg-cmg", vm_instances=5)
    assert result["ready"] is True
    assert result["existing_deployment"] == {
        "name": "GraniteFalls", "id": VMSS.replace("granitefalls", "GraniteFalls"), "location": "westus",
        "vm_size": "Standard_A2_v2", "capacity": 2, "provisioning_state": "Succeeded"}
    assert _check(result, "existing deployment")["message"] == (
        f"existing deployment found: scale set GraniteFalls in westus, Standard_A2_v2 x 2 "
        f"({VMSS.replace('granitefalls', 'GraniteFalls')}); its names are this CMG's own")
    assert _check(result, "quota cores")["message"].endswith("4 of 10 in use, 4 of them by the existing CMG scale set")
    scale_set_get = [r for r in azure_sandbox.arm_requests() if "virtualMachineScaleSets" in r.path]
    assert [(r.path, r.query) for r in scale_set_get] == [(VMSS, {"api-version": COMPUTE_API_VERSION})]
    other = _run(env, resource_group="rg-cmg", prefix="OtherCmg")
    assert (other["existing_deployment"], _check(other, "existing deployment")["message"]) == (
        None, "no scale set 'othercmg' in resource group rg-cmg: a new deployment")
    missing_group = _run(env, resource_group="rg-new")
    assert (missing_group["existing_deployment"], missing_group["ready"]) == (None, True)


def test_reads_are_concurrent_with_one_token(azure_sandbox, env):
    providers = azure_sandbox.hold("GET", r".*/providers/Microsoft\.[A-Za-z]+", parties=4, timeout=5)
    compute = azure_sandbox.hold("GET", r".*/(usages|virtualMachineScaleSets/.*)", parties=2, timeout=5)
    result = _run(env, resource_group="rg-cmg")
    assert (providers.released, providers.broken, compute.released, compute.broken) == (4, False, 2, False)
    assert result["ready"] is True and len(azure_sandbox.token_requests()) == 1


def test_compute_not_registered_is_not_read_nor_registered_behind_our_back(azure_sandbox, env):
    """Azure answers compute reads 409 MissingSubscriptionRegistration until Microsoft.Compute is registered, and the
    SDK pipeline would then register it by itself: the reads wait for the provider's answer."""
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.Compute": "NotRegistered"}}})
    result = _run(env, resource_group="rg-cmg")
    assert [(c["name"], c["status"]) for c in result["checks"]] == [
        ("provider Microsoft.Compute", "fail"), ("provider Microsoft.Network", "pass"),
        ("provider Microsoft.Storage", "pass"), ("provider Microsoft.KeyVault", "pass"),
        ("quota", "warn"), ("existing deployment", "warn")]
    assert _check(result, "quota")["message"] == (
        "the vCPU quota was not read: Microsoft.Compute is NotRegistered, and Azure answers compute reads only once it "
        "is Registered")
    assert [r.path for r in azure_sandbox.arm_requests() if "Microsoft.Compute/" in r.path or r.method == "POST"] == []
    checked = _run(env, check_mode=True, register=True)
    assert (checked["changed"], checked["providers"]["Microsoft.Compute"]) == (True, "NotRegistered")
    assert [r for r in azure_sandbox.arm_requests() if r.method == "POST" or "usages" in r.path] == []
    registered = _run(env, register=True)
    assert (registered["ready"], _check(registered, "quota standardAv2Family")["status"]) == (True, "pass")
    assert [r.path for r in azure_sandbox.arm_requests() if r.method == "POST"] == [
        f"{SUB}/providers/Microsoft.Compute/register"]


def test_throttling_is_retried_and_forbidden_names_the_permission(azure_sandbox, env):
    azure_sandbox.fault("GET", r".*/usages", 429, headers={"Retry-After": "0"})
    assert _run(env)["ready"] is True
    assert len([r for r in azure_sandbox.arm_requests() if r.path.endswith("/usages")]) == 2
    azure_sandbox.fault("GET", r".*/providers/Microsoft\.Network", 403)
    with pytest.raises(AzureError) as error:
        _run(env)
    assert "lacks the permission Microsoft.Resources/subscriptions/providers/read" in str(error.value)
    assert "while reading the registration of the resource provider Microsoft.Network" in str(error.value)
    azure_sandbox.seed({"readiness": {"providers": {"Microsoft.Network": "NotRegistered"}}})
    azure_sandbox.fault("POST", r".*/providers/Microsoft\.Network/register", 403)
    with pytest.raises(AzureError) as error:
        _run(env, register=True)
    assert "lacks the permission Microsoft.Network/register/action" in str(error.value)


@pytest.mark.parametrize("options, message", [
    ({"vm_instances": 0}, "vm_instances must be 1 to 16 (a CMG scale set), not 0"),
    ({"vm_instances": 17}, "vm_instances must be 1 to 16 (a CMG scale set), not 17"),
    ({"vm_size": "huge"}, "unknown vm_size 'huge': use one of lab, standard, large"),
    ({"resource_group": "bad/group"}, "'bad/group' is not a valid resource group name"),
    ({"prefix": None}, "give the CMG service_name (the certificate name) or its prefix"),
])
def test_bad_input(options, message):
    with pytest.raises(NamingError) as error:
        check_inputs(dict({"prefix": "GraniteFalls", "region": "westus"}, **options))
    assert str(error.value).startswith(message)


def test_inputs_from_service_name():
    assert check_inputs({"service_name": "GraniteFalls.contoso.com", "region": "West US", "vm_size": "lab",
                         "vm_instances": 3, "resource_group": " rg-cmg "})[:2] == ("granitefalls", "westus")
    name, _region, size, instances, group = check_inputs({"service_name": "*.contoso.com", "prefix": "Cmg1", "region": "westus"})
    assert (name, size.size, instances, group) == ("cmg1", "Standard_A2_v2", 1, None)


# ------------------------------------------------------------------------------------------------
# The compute reads as plain Resource Manager requests: paging, refused links, answers of another shape
# ------------------------------------------------------------------------------------------------

USAGES = f"{SUB}/providers/Microsoft.Compute/locations/westus/usages"


def _usage(usage_name, current=0, limit=100, **overrides):
    return dict({"unit": "Count", "currentValue": current, "limit": limit,
                 "name": {"value": usage_name, "localizedValue": usage_name}}, **overrides)


def test_usages_of_two_pages_are_read_fully(azure_sandbox, env):
    """The family of the lab size is on the second page (the sandbox's pages of four usages): it is read and judged."""
    azure_sandbox.seed({"readiness": {"usages_page_size": 4, "usages": {"westus": {"standardBSFamily": [0, 4]}}}})
    result = _run(env, vm_size="lab", vm_instances=3)
    assert _check(result, "quota standardBSFamily") == {
        "name": "quota standardBSFamily", "status": "fail",
        "message": "3 x Standard_B2s (2 vCPUs each) = 6 vCPUs in westus do not fit the family quota: Standard BS Family "
                   "vCPUs (standardBSFamily): 0 of 4 in use, 4 free",
        "fix": "raise the standardBSFamily vCPU limit in westus to 6 or more (quota request: "
               "https://learn.microsoft.com/azure/quotas/per-vm-quota-requests), or choose a smaller vm_size or fewer "
               "vm_instances"}
    assert _check(result, "quota cores")["status"] == "pass"  # on the first page
    pages = [(r.path, r.query) for r in azure_sandbox.arm_requests() if r.path.endswith("/usages")]
    assert pages == [(USAGES, {"api-version": COMPUTE_API_VERSION}),
                     (USAGES, {"api-version": COMPUTE_API_VERSION, "$skiptoken": "4"})]
    assert len(azure_sandbox.token_requests()) == 1


def test_next_link_keeps_its_query_but_gets_our_api_version(azure_sandbox, env):
    """As the SDK's pagers do: the link's own query is sent as it came, its api-version replaced by ours."""
    azure_sandbox.seed({"readiness": {"usages_page_size": 4}})
    link = f"{azure_sandbox.url}{USAGES}?API-Version=2015-01-01&%24skiptoken=4&%24filter=a%20b#fragment"
    azure_sandbox.fault("GET", r".*/usages", 200, body={"value": [_usage("cores")], "nextLink": link})
    assert _run(env)["ready"] is True
    pages = [r.query for r in azure_sandbox.arm_requests() if r.path.endswith("/usages")]
    assert pages == [{"api-version": COMPUTE_API_VERSION},
                     {"api-version": COMPUTE_API_VERSION, "$skiptoken": "4", "$filter": "a b"}]


@pytest.mark.parametrize("link", ["https://localhost:{port}" + USAGES + "?$skiptoken=4",  # the sandbox, by another name
                                  "http://127.0.0.1:{port}" + USAGES + "?$skiptoken=4",
                                  "a://example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaa",  # the nextLink of Microsoft's example
                                  USAGES[1:] + "?$skiptoken=4"])
def test_next_link_off_the_resource_manager_is_refused(azure_sandbox, env, link):
    port = azure_sandbox.url.rsplit(":", 1)[1]
    link = link.format(port=port)
    azure_sandbox.fault("GET", r".*/usages", 200, body={"value": [_usage("cores")], "nextLink": link})
    with pytest.raises(AzureError) as error:
        _run(env)
    message = str(error.value)
    assert message.startswith(f"Azure answered a next page at {link[:60]}") and "?" not in message.split(" while ", maxsplit=1)[0][60:]
    assert message.endswith(" while reading the compute usages of westus: refused, next pages are read only over https "
                            f"from the Resource Manager {azure_sandbox.url}/")
    assert len([r for r in azure_sandbox.requests if r.path.endswith("/usages")]) == 1, "the link was not followed"


def test_usages_pages_are_bounded(azure_sandbox, env):
    """A nextLink that leads back to the first page forever: twenty pages are read, then one line."""
    azure_sandbox.fault("GET", r".*/usages", 200, times=100,
                        body={"value": [_usage("cores")], "nextLink": f"{azure_sandbox.url}{USAGES}?$skiptoken=1"})
    with pytest.raises(AzureError) as error:
        _run(env)
    assert str(error.value) == "Azure listed the compute usages of westus over more than 20 pages (nextLink)"
    assert len([r for r in azure_sandbox.arm_requests() if r.path.endswith("/usages")]) == 20
    azure_sandbox.reset()
    azure_sandbox.fault("GET", r".*/usages", 200, body={"value": [_usage(f"family{i}") for i in range(2001)]})
    with pytest.raises(AzureError) as error:
        _run(env)
    assert str(error.value) == "Azure listed more than 2000 compute usages in westus"


@pytest.mark.parametrize("body, message", [
    (None, "Azure answered nothing instead of a usage list object"),
    ([_usage("cores")], "Azure answered [{'unit': 'Count', 'currentValue': 0,... instead of a usage list object"),
    ({"nextLink": None}, "Azure answered a usage list without a list in value (nothing)"),
    ({"value": {"cores": 1}}, "Azure answered a usage list without a list in value ({'cores': 1})"),
    ({"value": [_usage("cores")], "nextLink": 7}, "Azure answered a nextLink that is not a URL (7)"),
    ({"value": ["cores"]}, "Azure answered a usage without a name object ('cores')"),
    ({"value": [_usage("cores", name="cores")]}, "Azure answered a usage without a name object ("),
    ({"value": [_usage("cores", name={"value": 5})]}, "Azure answered a usage name that is not text ({'value': 5})"),
    ({"value": [_usage("cores", current="12")]}, "Azure answered the usage 'cores' whose currentValue is not an integer ('12')"),
    ({"value": [_usage("cores", limit=1.5)]}, "Azure answered the usage 'cores' whose limit is not an integer (1.5)"),
    ({"value": [_usage("cores", limit=True)]}, "Azure answered the usage 'cores' whose limit is not an integer (True)"),
    ({"value": [{"name": {"value": "cores"}, "limit": 10}]},
     "Azure answered the usage 'cores' whose currentValue is not an integer (nothing)"),
])
def test_usages_of_another_shape_fail_in_one_line(azure_sandbox, env, body, message):
    azure_sandbox.fault("GET", r".*/usages", 200, body=body)
    with pytest.raises(AzureError) as error:
        _run(env)
    assert str(error.value).startswith(message)
    assert str(error.value).endswith(" while reading the compute usages of westus") and "\n" not in str(error.value)


def test_scale_set_not_found_is_none_and_other_errors_name_the_permission(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"resource_groups": ["rg-cmg"]}})
    result = _run(env, resource_group="rg-cmg")
    assert (result["existing_deployment"], _check(result, "existing deployment")["status"]) == (None, "pass")
    answered = [r for r in azure_sandbox.arm_requests() if "virtualMachineScaleSets" in r.path]
    assert [(r.path, r.query) for r in answered] == [(VMSS, {"api-version": COMPUTE_API_VERSION})]
    azure_sandbox.fault("GET", r".*/virtualMachineScaleSets/.*", 403)
    with pytest.raises(AzureError) as error:
        _run(env, resource_group="rg-cmg")
    assert str(error.value).startswith(f"the service principal {azure_sandbox.client_id} may not act in subscription ")
    assert ("while looking for the scale set 'granitefalls' in resource group 'rg-cmg': it lacks the permission "
            "Microsoft.Compute/virtualMachineScaleSets/read") in str(error.value)
    azure_sandbox.fault("GET", r".*/usages", 403)
    with pytest.raises(AzureError) as error:
        _run(env)
    assert ("while reading the compute usages of westus: it lacks the permission Microsoft.Compute/locations/usages/read"
            in str(error.value))


def test_scale_set_group_and_name_are_quoted_in_the_path(azure_sandbox, env):
    azure_sandbox.seed({"readiness": {"scale_sets": [{"name": "granitefalls", "resource_group": "rg(cmg)", "location": "westus",
                                                      "size": "Standard_A2_v2", "capacity": 1}]}})
    result = _run(env, resource_group="rg(cmg)")
    assert result["existing_deployment"]["id"].endswith("/resourceGroups/rg(cmg)/providers/Microsoft.Compute/"
                                                        "virtualMachineScaleSets/granitefalls")
    assert [r.path for r in azure_sandbox.arm_requests() if "virtualMachineScaleSets" in r.path] == [
        VMSS.replace("rg-cmg", "rg%28cmg%29")]


SCALE_SET = {"name": "granitefalls", "id": VMSS, "location": "West US", "sku": {"name": "Standard_A2_v2", "capacity": 2},
             "properties": {"provisioningState": "Succeeded"}}


@pytest.mark.parametrize("body, message", [
    ([SCALE_SET], "Azure answered [{'name': 'granitefalls', 'id': '/sub... instead of a scale set object"),
    (None, "Azure answered nothing instead of a scale set object"),
    (dict(SCALE_SET, name=None), "Azure answered a scale set whose name is not non-empty text (nothing)"),
    (dict(SCALE_SET, location=["westus"]), "Azure answered a scale set whose location is not non-empty text (['westus'])"),
    (dict(SCALE_SET, sku="Standard_A2_v2"), "Azure answered a scale set whose sku or properties is not an object"),
    (dict(SCALE_SET, sku={"name": "Standard_A2_v2", "capacity": "2"}),
     "Azure answered a scale set sku whose capacity is not an integer ('2')"),
    (dict(SCALE_SET, properties={"provisioningState": 1}), "Azure answered a scale set whose provisioningState is not text (1)"),
])
def test_scale_set_of_another_shape_fails_in_one_line(azure_sandbox, env, body, message):
    azure_sandbox.fault("GET", r".*/virtualMachineScaleSets/.*", 200, body=body)
    with pytest.raises(AzureError) as error:
        _run(env, resource_group="rg-cmg")
    assert str(error.value) == f"{message} while looking for the scale set 'granitefalls' in resource group 'rg-cmg'"


def test_scale_set_without_sku_or_properties(azure_sandbox, env):
    """sku and properties are optional in VirtualMachineScaleSets_Get: their fields are then None."""
    azure_sandbox.fault("GET", r".*/virtualMachineScaleSets/.*", 200,
                        body={"name": "granitefalls", "id": VMSS, "location": "westus"})
    result = _run(env, resource_group="rg-cmg")
    assert result["existing_deployment"] == {"name": "granitefalls", "id": VMSS, "location": "westus", "vm_size": None,
                                             "capacity": None, "provisioning_state": None}
